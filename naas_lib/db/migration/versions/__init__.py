"""Alembic revisions of the naas_lib schema, one module per revision."""
