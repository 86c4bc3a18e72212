"""Regulatory tasks (监管任务) that count as legally delivered (R11): the life cycle, deadlines in
working days, signed receipts; kept in the gateway database with every change's audit entry,
receipts and event; who sees what; reminders; complaints that become tasks (docs/tasks.md)."""
