"""The four sources of the data standard, one package each, and the GraphQL schema over them."""
