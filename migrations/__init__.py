"""Alembic migrations of the app database (`thidua db upgrade`)."""
