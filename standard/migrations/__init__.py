"""Alembic migrations, one version folder per source database."""
