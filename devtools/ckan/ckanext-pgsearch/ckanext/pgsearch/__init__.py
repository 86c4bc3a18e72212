"""pgsearch: a development and test stand-in for Solr that keeps CKAN's search index in PostgreSQL.

Production runs CKAN with Apache Solr (the official CKAN images); this package exists because no
Solr can be installed on the project's development and CI machines. See docs/ckan-dev.md.
"""
