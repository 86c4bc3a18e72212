"""The tamper-evident audit log: append, checkpoints, keys, verification, reading."""
