"""The one harness the benchmark scripts share (and ``tests/servers.py`` serves through).

- ``servers``: child processes run as modules from the repository's root, a server in a child
  process on a free 127.0.0.1 port (started, waited for until ``/healthz`` answers, stopped),
  and the child's side: one uvicorn worker on the socket its parent bound;
- ``load``: the closed-loop load generator (``benchmarks.loadgen``) run in a process of its own;
- ``postgres``: scratch PostgreSQL databases, made and dropped;
- ``data``: demo data seeded into scratch sources, the gateway's own database and a caller;
- ``timing``: µs per call, CPU of this process, of a child, of the machine, peak memory;
- ``report``: same-run ratios, where two JSON answers differ, what a run leaves behind.
"""
