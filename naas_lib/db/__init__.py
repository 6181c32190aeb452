"""Persistence: SQLAlchemy models, the engine facade and alembic migrations."""
