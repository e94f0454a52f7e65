"""`SUPPORTFLOW_ACCESS_LOG`: which answers uvicorn's access log writes: `errors` (the default), `all` or `off`.

A line for every request costs CPU (formatting, and a write to the log
stream each time): 0.04 to 0.13 ms a request under uvicorn alone, about
0.05 ms an open side by side (issue 17, docs/benchmarks.md). An accepted
intake is recorded anyway: its case exists, with an `opened` entry in its
timeline. So by default the log keeps the answers an operator has to look
into, 400 and above: a refused field, a missing or wrong key, a rate limit,
a server error. `all` writes every line, as uvicorn does; `off` none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import environment

VARIABLE = "SUPPORTFLOW_ACCESS_LOG"
CHOICES = ("errors", "all", "off")
DEFAULT = "errors"
ACCESS_LOGGER = "uvicorn.access"


class ErrorsOnly(logging.Filter):
    """Drops uvicorn's lines for answers below 400. Its arguments end with the status code."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = record.args[-1] if isinstance(record.args, tuple) and record.args else None
        return not (isinstance(status, int) and status < 400)


def access_log_from_env(env: Mapping[str, str] | None = None) -> str:
    return environment.one_of(VARIABLE, environment.value(VARIABLE, env) or DEFAULT, CHOICES)


def keep_access_log(chosen: str, logger: str = ACCESS_LOGGER) -> bool:
    """Install the choice on the access logger; False means uvicorn should not write access lines at all."""
    access = logging.getLogger(logger)
    for existing in [f for f in access.filters if isinstance(f, ErrorsOnly)]:
        access.removeFilter(existing)
    if chosen == "errors":
        access.addFilter(ErrorsOnly())
    return chosen != "off"
