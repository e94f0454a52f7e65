"""The case archive: every case's record in a real database, long after Temporal's retention has deleted it.

`store.Archive` reads and writes it (SQLAlchemy 2, Alembic migrations in
`migrations/`); `report` and `whatif` are pure functions over its records;
`pages` is the SMS/voice page log; `portal` lists a requester's closed cases.
"""
