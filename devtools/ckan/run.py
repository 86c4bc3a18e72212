#!/usr/bin/env python3
"""A real CKAN 2.12 for development and tests, with the pgsearch stand-in for Solr.

    devtools/ckan/run.py install setup start     # idempotent; each step skips what is done
    eval "$(devtools/ckan/run.py env)"           # export CKAN_URL and CKAN_API_TOKEN
    devtools/ckan/run.py status | stop
    devtools/ckan/run.py ckan search-index rebuild   # any CKAN command, with the generated ckan.ini

Settings (environment; defaults in brackets):
    JIANGUAN_CKAN_VENV       virtual environment for CKAN            [<project>/.venv-ckan]
    JIANGUAN_CKAN_DIR        ckan.ini, storage, pid file, log, token [<project>/var/ckan]
    JIANGUAN_CKAN_HOST       address CKAN listens on                 [127.0.0.1]
    JIANGUAN_CKAN_PORT       port CKAN listens on                    [5055]
    JIANGUAN_CKAN_POSTGRES   superuser DSN for setup   [postgresql://postgres@127.0.0.1:5432/postgres]
    JIANGUAN_CKAN_DB         names NAME, NAME_datastore (databases), NAME, NAME_datastore_ro
                             (roles)                                 [jg_ckan]
    JIANGUAN_CKAN_REDIS_URL  Redis for CKAN                          [redis://127.0.0.1:6379/5]
    JIANGUAN_CKAN_PYTHON     interpreter the venv is made from       [python3.11, else this one]

Only the standard library is used, so any Python 3.11 runs it. Development and tests only:
production runs CKAN with Solr (see docs/ckan-dev.md).
"""

from __future__ import annotations

import subprocess
import sys

from devckan.provision import install, setup
from devckan.server import env, start, status, stop
from devckan.settings import Failed, Settings, locked

STEPS = {"install": install, "setup": setup, "start": start, "stop": stop}  # one at a time


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    words = argv[: argv.index("ckan")] if "ckan" in argv else argv
    unknown = [word for word in words if word not in (*STEPS, "status", "env")]
    if unknown:
        known = ", ".join([*STEPS, "status", "env", "ckan ..."])
        print(f"unknown command {unknown[0]!r}; commands: {known}", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
        for command in words:
            if command == "status":
                if code := status(settings):
                    return code
            elif command == "env":
                env(settings)
            else:
                with locked(settings):
                    STEPS[command](settings)
    except Failed as exc:
        print(f"ckan: {exc}", file=sys.stderr)
        return 1
    if "ckan" in argv:  # the rest of the line is a command of CKAN's own CLI
        rest = argv[argv.index("ckan") + 1 :]
        return subprocess.call(
            [str(settings.venv / "bin" / "ckan"), "-c", str(settings.ini), *rest]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
