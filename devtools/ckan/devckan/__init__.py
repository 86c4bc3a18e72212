"""A development CKAN: install, set up and run it (devtools/ckan/run.py, docs/ckan-dev.md)."""
