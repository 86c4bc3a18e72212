"""How the gateway reaches a source: over SQL or over the source-exchange HTTP API."""
