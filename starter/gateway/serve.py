"""`supportflow gateway --host H --port P`: serve the gateway with uvicorn.

The access log writes the answers of 400 and above unless `SUPPORTFLOW_ACCESS_LOG` says
otherwise (starter/gateway/access_log.py).
"""

from __future__ import annotations

import argparse
import gc
import sys

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# Longer than intake clients keep an idle connection (httpx 5 s, load balancers 60 s). At uvicorn's 5 s a
# burst of 1,000 opens (tests/reliability/test_intake_burst.py) lost requests to ReadError in about one run
# in five: the gateway closed connections, as idle, that already carried the client's next request.
KEEP_ALIVE_SECONDS = 75


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"the address to listen on (default {DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"the port to listen on (default {DEFAULT_PORT})"
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    import environment
    from environment import SettingsError
    from starter.gateway.access_log import access_log_from_env, keep_access_log
    from starter.gateway.app import create_app
    from starter.gateway.intake_rate import IntakeRate
    from starter.gateway.portal_signin import LinkLimit
    from starter.gateway.settings import GatewaySettings
    from starter.outbox.state import OutboxSettings

    try:
        settings = GatewaySettings.from_env()
        for secret in ("SUPPORTFLOW_ACK_SECRET", "SUPPORTFLOW_PORTAL_SECRET"):
            environment.required(secret, why="the gateway checks acknowledgement links and signs portal links with it")
        LinkLimit.from_env()
        IntakeRate.from_env()
        OutboxSettings.from_env()
        access_log = access_log_from_env()
    except (SettingsError, ValueError) as problem:
        print(f"supportflow gateway: {problem}", file=sys.stderr)
        return 2
    from archive.store import Archive, ArchiveError

    try:
        archive = Archive.from_env()
        unreachable = archive.reachable()
        archive.dispose()
    except ArchiveError as unusable:
        print(f"supportflow gateway: {unusable}", file=sys.stderr)
        return 2
    if unreachable:
        print(
            f"supportflow gateway: warning: {unreachable}; GET /v1/reports/sla answers 503 until then", file=sys.stderr
        )
    if not settings.api_keys:
        print("supportflow gateway: SUPPORTFLOW_API_KEYS is empty; every keyed route will answer 401", file=sys.stderr)
    app = create_app(settings=settings)
    # Everything imported and built so far lives as long as the process: frozen, the collector stops walking
    # it again and again as each request's objects come and go. Gateway CPU per open fell from 3.05 to 2.63 ms
    # (median of three interleaved bursts of 2,000 opens, 2026-12-05; docs/benchmarks.md).
    gc.freeze()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=keep_access_log(access_log),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0
