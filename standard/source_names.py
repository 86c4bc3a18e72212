"""The sources' names: apart from the registry so that reading settings, and ``jianguan
--help``, import no SQLAlchemy. The registry is checked against this list when it loads."""

SOURCE_NAMES: tuple[str, ...] = ("supervision", "complaints", "credit", "gov_services")
"""The four sources, in order; each has its own database (R3, R5)."""
