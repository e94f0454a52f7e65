"""TLS client contexts, built once per worker process.

Building one loads a CA bundle, about 10 ms of CPU. Built per message, that
was half of the worker's CPU in a pile-up of deadlines (py-spy), and it made
the breach pages late. A changed CA bundle is read at the next worker start.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def for_http() -> ssl.SSLContext:
    """httpx's own verified context (its CA bundle, `SSL_CERT_FILE`/`SSL_CERT_DIR` honoured)."""
    return httpx.create_ssl_context()


@functools.cache
def for_smtp() -> ssl.SSLContext:
    """The system's default verified context, as `smtplib` would build for itself."""
    return ssl.create_default_context()
