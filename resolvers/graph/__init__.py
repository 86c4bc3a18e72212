"""The GraphQL view of the data standard, built from the table definitions."""
