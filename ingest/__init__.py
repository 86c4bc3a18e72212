"""Validated ingest of the data standard's records (R4): files, and later GraphQL mutations."""
