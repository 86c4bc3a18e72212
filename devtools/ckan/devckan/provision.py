"""The install and setup steps: CKAN in its own venv; databases, ckan.ini, a sysadmin's token."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import tempfile
import urllib.parse
from pathlib import Path

from .settings import ADMIN, CKAN_VERSION, PLUGIN_SOURCE, Failed, Settings, run, say

# -- install -----------------------------------------------------------------------------------


def _plugin_digest() -> str:
    """A hash of the plugin's source (its Python files and pyproject.toml)."""
    digest = hashlib.sha256()
    files = [*PLUGIN_SOURCE.glob("ckanext/**/*.py"), PLUGIN_SOURCE / "pyproject.toml"]
    for path in sorted(files):
        digest.update(str(path.relative_to(PLUGIN_SOURCE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def installed_version(settings: Settings) -> str | None:
    found = sorted(settings.venv.glob("lib/python3*/site-packages/ckan-*.dist-info"))
    return found[0].name.removeprefix("ckan-").removesuffix(".dist-info") if found else None


def is_installed(settings: Settings) -> bool:
    stamp = settings.venv / "pgsearch.sha256"
    return (
        installed_version(settings) == CKAN_VERSION
        and stamp.exists()
        and stamp.read_text().strip() == _plugin_digest()
    )


def install(settings: Settings) -> None:
    if is_installed(settings):
        say(f"CKAN {CKAN_VERSION} and pgsearch already installed in {settings.venv}")
        return
    pip = [str(settings.venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    if not (settings.venv / "bin" / "python").exists():
        say(f"creating {settings.venv} with {settings.python}")
        run([settings.python, "-m", "venv", str(settings.venv)])
        (settings.venv / ".gitignore").write_text("*\n")  # as Python 3.13's venv writes it
    if installed_version(settings) != CKAN_VERSION:
        say(f"installing ckan[requirements]=={CKAN_VERSION} (about a minute)")
        run([*pip, "install", "--quiet", f"ckan[requirements]=={CKAN_VERSION}"])
    say("installing the pgsearch plugin")
    with tempfile.TemporaryDirectory() as tmp:  # built from a copy: no build/ in the checkout
        copy = Path(tmp) / "ckanext-pgsearch"
        shutil.copytree(
            PLUGIN_SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
        )
        run([*pip, "install", "--quiet", "--no-deps", "--force-reinstall", str(copy)])
    (settings.venv / "pgsearch.sha256").write_text(_plugin_digest() + "\n")
    say(f"installed CKAN {CKAN_VERSION} in {settings.venv}")


# -- setup -------------------------------------------------------------------------------------


def _dsn(
    settings: Settings, database: str, user: str | None = None, password: str | None = None
) -> str:
    """The superuser DSN on ``database``, or as ``user`` with ``password`` when they are given."""
    parts = urllib.parse.urlsplit(settings.postgres)
    netloc = parts.netloc
    if user:
        host = f"{parts.hostname}:{parts.port or 5432}"
        netloc = f"{user}:{urllib.parse.quote(password or '', safe='')}@{host}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, ""))


def psql(settings: Settings, sql: str, *, database: str = "postgres") -> str:
    if shutil.which("psql") is None:
        raise Failed("psql is not on PATH (apt-get install postgresql-client)")
    args = ["psql", _dsn(settings, database), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]
    return run(args, input_text=sql).strip()


def _secrets(settings: Settings) -> dict[str, str]:
    path = settings.dir / "secrets.json"
    if not path.exists():
        made = {name: secrets.token_urlsafe(18) for name in ("db_password", "admin_password")}
        path.write_text(json.dumps(made, indent=2) + "\n")
        path.chmod(0o600)
    values: dict[str, str] = json.loads(path.read_text())
    return values


def _ensure_databases(settings: Settings, password: str) -> bool:
    """Roles and databases; True when a database had to be created."""
    try:
        psql(settings, "SELECT 1")
    except Failed as exc:
        raise Failed(
            f"PostgreSQL does not answer at {settings.postgres}; run scripts/ensure-services\n{exc}"
        ) from exc
    for role in (settings.db, settings.readonly_role):
        psql(
            settings,
            f"""DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE "{role}" LOGIN;
                END IF;
            END $$;
            ALTER ROLE "{role}" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE
                PASSWORD '{password}';""",
        )
    created = False
    for database in (settings.db, settings.datastore_db):
        if not psql(settings, f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
            say(f"creating database {database}")
            psql(
                settings,
                f"""CREATE DATABASE "{database}" OWNER "{settings.db}"
                    ENCODING 'UTF8' TEMPLATE template0""",
            )
            psql(settings, f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
            created = True
    return created


def set_options(text: str, section: str, options: dict[str, str]) -> str:
    """``text`` (an ini file) with ``options`` set in ``section``: each key's first line, commented
    or not, becomes ``key = value``, its other lines go, and missing keys end the section."""
    out: list[str] = []
    current, done = "", set[str]()

    def add_missing() -> None:
        if current == section:
            out.extend(f"{key} = {value}" for key, value in options.items() if key not in done)
            done.update(options)

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            add_missing()
            current = stripped
        elif current == section and "=" in stripped:
            key = stripped.lstrip("#").split("=", 1)[0].strip()
            if key in options:
                if key not in done:
                    out.append(f"{key} = {options[key]}")
                    done.add(key)
                continue
        out.append(line)
    add_missing()
    return "\n".join(out) + "\n"


def _write_ini(settings: Settings, password: str) -> bool:
    """Write our settings into ckan.ini; True when the file had to be generated."""
    generated = not settings.ini.exists()
    if generated:  # once: the secrets it generates sign the API tokens
        run([str(settings.venv / "bin" / "ckan"), "generate", "config", str(settings.ini)])
    options = {
        "sqlalchemy.url": _dsn(settings, settings.db, settings.db, password),
        "ckan.datastore.write_url": _dsn(settings, settings.datastore_db, settings.db, password),
        "ckan.datastore.read_url": _dsn(
            settings, settings.datastore_db, settings.readonly_role, password
        ),
        "ckan.site_url": settings.url,
        "ckan.site_id": "jianguan-dev",
        "ckan.plugins": "datastore pgsearch",
        "solr_url": "pgsearch://ckan-database",  # never contacted: the pgsearch plugin answers
        "ckan.redis.url": settings.redis_url,
        "ckan.storage_path": str(settings.dir / "storage"),
        "ckan.views.default_views": "",  # no view plugins are enabled
        # Uploads up to 2 GB (10 MB by default): a million-row release's files are ~300 MB each.
        "ckan.max_resource_size": "2048",
    }
    settings.ini.write_text(set_options(settings.ini.read_text(), "[app:main]", options))
    (settings.dir / "storage").mkdir(exist_ok=True)
    settings.ini.chmod(0o600)
    return generated


def _token_is_valid(settings: Settings) -> bool:
    """The token file names a live API token of an active sysadmin (checked in the database)."""
    if not settings.token_file.exists():
        return False
    try:
        payload = settings.token_file.read_text().strip().split(".")[1]
        jti = str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])
    except (IndexError, ValueError, KeyError):
        return False
    try:
        answer = psql(
            settings,
            f"""SELECT 1 FROM api_token t JOIN "user" u ON u.id = t.user_id
                WHERE t.id = '{jti.replace("'", "")}' AND u.name = '{ADMIN}'
                AND u.sysadmin AND u.state = 'active'""",
            database=settings.db,
        )
    except Failed:
        return False
    return answer == "1"


def setup(settings: Settings) -> None:
    if not is_installed(settings):
        raise Failed(f"CKAN is not installed in {settings.venv}: run devtools/ckan/run.py install")
    settings.dir.mkdir(parents=True, exist_ok=True)
    values = _secrets(settings)
    fresh = _ensure_databases(settings, values["db_password"])
    fresh = _write_ini(settings, values["db_password"]) or fresh
    permissions_set = psql(
        settings,
        "SELECT to_regclass('public._table_metadata') IS NOT NULL",
        database=settings.datastore_db,
    )
    if not fresh and permissions_set == "t" and _token_is_valid(settings):
        say(f"already set up ({settings.ini})")
        return
    ckan = [str(settings.venv / "bin" / "ckan"), "-c", str(settings.ini)]
    say("ckan db init")
    run([*ckan, "db", "init"])
    say("ckan datastore set-permissions")
    sql = run([*ckan, "datastore", "set-permissions"])
    psql(settings, sql, database=settings.datastore_db)
    if not psql(settings, f"""SELECT 1 FROM "user" WHERE name = '{ADMIN}'""", database=settings.db):
        say(f"creating sysadmin {ADMIN}")
        run(
            [
                *ckan,
                "user",
                "add",
                ADMIN,
                f"email={ADMIN}@example.invalid",
                f"password={values['admin_password']}",
            ]
        )
    run([*ckan, "sysadmin", "add", ADMIN])
    token = (
        run([*ckan, "user", "token", "add", ADMIN, "jianguan-dev", "--quiet"])
        .strip()
        .splitlines()[-1]
    )
    settings.token_file.write_text(token.strip() + "\n")
    settings.token_file.chmod(0o600)
    say(f"set up: {settings.ini}; API token in {settings.token_file}")
