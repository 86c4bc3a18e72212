"""Regulatory tasks (监管任务) that count as legally delivered (R11): the life cycle, deadlines in
working days, signed receipts. Pure logic and signing so far; storage, GraphQL and the CLI come
next (docs/tasks.md)."""
