"""SQLAlchemy 2 (Core) adapters for SQLite and PostgreSQL: one module per aggregate."""
