"""Background work on procrastinate: event delivery rounds, overdue marking, reminders."""
