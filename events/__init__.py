"""Events to partner systems: a transactional outbox, delivered as signed webhooks."""
