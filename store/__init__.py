"""Storage: SQL (SQLAlchemy + Alembic) behind plain dataclasses."""
