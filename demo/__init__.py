"""Deterministic, realistic demo data for Xi'an: every table of the four sources, three scales."""
