"""How the workflow writes a case's record to the archive: the activity's name, timeouts and retry policy.

The workflow imports this module, so it holds constants only; the
`archive_case` activity lives in `activities/archive.py` and is called by
name, which keeps SQLAlchemy out of the sandbox. A case is never complete
without its record: the write is retried, with no maximum, until the
database accepts it.
"""

from datetime import timedelta

from temporalio.common import RetryPolicy

ARCHIVE_ACTIVITY = "archive_case"

ARCHIVE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    # A database back from an outage is written to within a minute; no more often than that while it is down.
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=0,  # unlimited: the case waits for its record
)
# One attempt: a write is milliseconds; a connection attempt gives up after 5 s (archive/store.py).
ARCHIVE_START_TO_CLOSE = timedelta(seconds=30)

# No schedule-to-close: the write is retried forever.
ARCHIVE_OPTIONS = {"start_to_close_timeout": ARCHIVE_START_TO_CLOSE, "retry_policy": ARCHIVE_RETRY}
