"""Alembic migrations for the case archive, shipped inside the package (`supportflow archive migrate`)."""
