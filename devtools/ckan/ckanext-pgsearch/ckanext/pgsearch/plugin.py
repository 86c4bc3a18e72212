"""The ``pgsearch`` CKAN plugin: CKAN's Solr connection replaced by a PostgreSQL table.

A development and test stand-in only: production uses Apache Solr (the official CKAN images).
All of CKAN's Solr traffic goes through ``ckan.lib.search.common.make_connection`` (imported by
name into ``ckan.lib.search``, ``.index`` and ``.query``) plus ``check_solr_schema_version`` at
start-up; the plugin swaps those for functions returning a ``PgSolr`` on CKAN's own database.
"""

from __future__ import annotations

import ckan.lib.search as search
import ckan.lib.search.common as search_common
import ckan.lib.search.index as search_index
import ckan.lib.search.query as search_query
import ckan.plugins as plugins
import sqlalchemy as sa
from ckan.common import CKANConfig, config
from sqlalchemy.engine import Engine

from .connection import PgSolr

_engines: dict[str, Engine] = {}


def _engine() -> Engine:
    """One small pool per process, apart from CKAN's session: index writes commit on their own,
    as they do in Solr."""
    url = config["sqlalchemy.url"]
    if url not in _engines:
        _engines[url] = sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4)
    return _engines[url]


def make_connection(decode_dates: bool = True) -> PgSolr:
    """Stands in for ``ckan.lib.search.common.make_connection`` (same signature)."""
    decoder = search_common.solr_datetime_decoder if decode_dates else None
    return PgSolr(_engine(), decoder=decoder)


def check_solr_schema_version(schema_file: str | None = None) -> bool:
    """Stands in for the start-up schema check: the table is created on first use instead."""
    return True


def install() -> None:
    """Point every module that imported CKAN's Solr seam at the PostgreSQL stand-in."""
    for module in (search, search_common, search_index, search_query):
        module.make_connection = make_connection
    search.check_solr_schema_version = check_solr_schema_version


class PgSearchPlugin(plugins.SingletonPlugin):  # type: ignore[misc]  # CKAN is untyped
    """Enable with ``ckan.plugins = ... pgsearch`` (development and tests only)."""

    plugins.implements(plugins.IConfigurer)

    def update_config(self, config_: CKANConfig) -> None:
        # CKAN calls this while loading the environment, before it checks the Solr schema.
        install()
