"""`SUPPORTFLOW_ACCESS_LOG`: by default uvicorn's access log keeps the answers an operator must look into."""

from __future__ import annotations

import logging

import pytest

from environment import SettingsError
from starter.gateway.access_log import ErrorsOnly, access_log_from_env, keep_access_log


def access_line(status: int) -> logging.LogRecord:
    """uvicorn's access line: client, method, path with query, HTTP version, status."""
    args = ("127.0.0.1:5000", "POST", "/v1/cases", "1.1", status)
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)


def test_errors_keeps_answers_from_400_up_and_drops_the_rest():
    kept = {status: ErrorsOnly().filter(access_line(status)) for status in (200, 201, 303, 400, 401, 422, 429, 500)}
    assert kept == {200: False, 201: False, 303: False, 400: True, 401: True, 422: True, 429: True, 500: True}


def test_a_line_that_is_not_an_access_line_is_kept():
    other = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "no arguments", None, None)
    assert ErrorsOnly().filter(other)


def test_the_default_is_errors_and_a_bad_value_is_named():
    assert access_log_from_env({}) == "errors"
    assert access_log_from_env({"SUPPORTFLOW_ACCESS_LOG": " ALL "}) == "all"
    with pytest.raises(SettingsError, match="SUPPORTFLOW_ACCESS_LOG='some'"):
        access_log_from_env({"SUPPORTFLOW_ACCESS_LOG": "some"})


def test_each_choice_sets_the_logger_and_whether_uvicorn_writes_at_all():
    name = "test.access"
    logger = logging.getLogger(name)
    assert keep_access_log("errors", name) and keep_access_log("errors", name)
    assert sum(isinstance(f, ErrorsOnly) for f in logger.filters) == 1, "choosing twice installs one filter"
    assert keep_access_log("all", name) and not any(isinstance(f, ErrorsOnly) for f in logger.filters)
    assert keep_access_log("off", name) is False
