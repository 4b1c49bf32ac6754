"""Alembic migrations of the catalog, run by strongroom.catalog.schema (no alembic.ini needed)."""
