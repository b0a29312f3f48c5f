"""PMIS api: packages and their tasks, over FastAPI + SQLAlchemy 2, schema managed by Alembic."""
