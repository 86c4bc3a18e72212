"""Parties, staff accounts, machine clients, passwords, tokens, sessions and TOTP."""
