"""The tables of the four sources' databases and of the gateway's own database."""
