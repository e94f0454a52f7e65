"""One `supportflow up` stack: its ports, its secrets, how it delivers, and the environment its children share.

Ports: the gateway's is `--gateway-port` (default 8000); the worker's metrics
and the outbox's SMTP server get free ones, so two stacks run side by side.

Secrets (DESIGN Decision 6): the worker and gateway refuse to start without
`SUPPORTFLOW_ACK_SECRET` and `SUPPORTFLOW_PORTAL_SECRET`, and no running mode
signs with a secret written in the source. So `up` makes each one once per
data dir (random, mode 0600) and reuses it, so ack and portal links survive a
restart; a value (or `…_FILE`) in the environment wins.

Delivery (DESIGN "Development outbox"): `outbox` unless `SUPPORTFLOW_DELIVERY`
says otherwise, or real SMTP or Twilio settings are given, which mean `live`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starter.devserver import free_port

HOST = "127.0.0.1"
GATEWAY_PORT = 8000
SECRET_FILES = {"SUPPORTFLOW_ACK_SECRET": "ack-secret", "SUPPORTFLOW_PORTAL_SECRET": "portal-secret"}
# Any of these means the operator wants real messages sent.
LIVE_SETTINGS = ("SUPPORTFLOW_SMTP_HOST", "TWILIO_ACCOUNT_SID", "TWILIO_ACCOUNT_SID_FILE")
SMTP_LOGIN = ("SUPPORTFLOW_SMTP_USER", "SUPPORTFLOW_SMTP_PASSWORD", "SUPPORTFLOW_SMTP_PASSWORD_FILE")
OUTBOX_FILE = "outbox.sqlite"
# A worker or gateway pointed at a cluster through the environment must not carry that here.
REMOTE_CONNECTION_VARIABLES = ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA", "TEMPORAL_API_KEY")


class StackSettingsError(ValueError):
    """A setting `up` cannot use; the message names it."""


@dataclass(frozen=True)
class Stack:
    data_dir: Path
    gateway_port: int = GATEWAY_PORT
    delivery: str = "outbox"
    smtp_port: int | None = None  # the outbox's SMTP server, in outbox mode
    metrics_port: int = 0  # the worker's Prometheus endpoint

    @classmethod
    def plan(cls, data_dir: Path, gateway_port: int, environ: Mapping[str, str] | None = None) -> Stack:
        """Choose the delivery mode and the free ports this stack needs beside the dev server's own."""
        environ = os.environ if environ is None else environ
        mode = delivery_mode(environ)
        metrics = environ.get("SUPPORTFLOW_METRICS_PORT", "").strip()
        if metrics and not metrics.isdigit():
            raise StackSettingsError(f"SUPPORTFLOW_METRICS_PORT={metrics!r} is not a port number")
        return cls(
            data_dir=data_dir,
            gateway_port=gateway_port,
            delivery=mode,
            smtp_port=free_port() if mode == "outbox" else None,
            metrics_port=int(metrics) if metrics else free_port(),
        )

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.gateway_port}"

    @property
    def public_url(self) -> str:
        """The gateway as browsers reach it: SUPPORTFLOW_PUBLIC_URL, or the gateway `up` runs."""
        return (os.environ.get("SUPPORTFLOW_PUBLIC_URL") or self.gateway_url).rstrip("/")

    @property
    def metrics_url(self) -> str:
        return f"http://{os.environ.get('SUPPORTFLOW_METRICS_HOST') or HOST}:{self.metrics_port}/metrics"

    @property
    def outbox_url(self) -> str | None:
        return f"{self.gateway_url}/outbox" if self.delivery == "outbox" else None

    def child_env(self, temporal_address: str, namespace: str) -> dict[str, str]:
        """The worker's and the gateway's environment: they must agree on secrets, links and delivery."""
        env = {key: value for key, value in os.environ.items() if key not in REMOTE_CONNECTION_VARIABLES}
        env.update(TEMPORAL_ADDRESS=temporal_address, TEMPORAL_NAMESPACE=namespace, PYTHONUNBUFFERED="1")
        # Acknowledgement and portal links point at the gateway `up` runs, unless told otherwise.
        env.setdefault("SUPPORTFLOW_PUBLIC_URL", self.gateway_url)
        env.update(secrets_env(self.data_dir, os.environ))
        env["SUPPORTFLOW_DELIVERY"] = self.delivery
        if self.delivery == "outbox" and self.smtp_port is not None:
            for name in SMTP_LOGIN:  # the outbox's SMTP server takes no login
                env.pop(name, None)
            env.update(
                SUPPORTFLOW_OUTBOX_URL=self.gateway_url,
                SUPPORTFLOW_OUTBOX_FILE=str((self.data_dir / OUTBOX_FILE).resolve()),
                SUPPORTFLOW_OUTBOX_SMTP_PORT=str(self.smtp_port),
                # The worker's email deliveries, and the gateway's own sign-in links, go to the outbox's SMTP server.
                SUPPORTFLOW_SMTP_HOST=HOST,
                SUPPORTFLOW_SMTP_PORT=str(self.smtp_port),
                SUPPORTFLOW_SMTP_TLS="none",
            )
        return env


def kept_secret(data_dir: Path, name: str) -> tuple[str, Path]:
    """The secret in `<data dir>/<name>`, made (random, mode 0600) the first time."""
    path = data_dir / name
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip(), path
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(value + "\n")
    return value, path


def secrets_env(data_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The link-signing secrets the environment does not already give, from the data dir."""
    return {
        variable: kept_secret(data_dir, file_name)[0]
        for variable, file_name in SECRET_FILES.items()
        if not environ.get(variable, "").strip() and not environ.get(f"{variable}_FILE", "").strip()
    }


def delivery_mode(environ: Mapping[str, str]) -> str:
    chosen = environ.get("SUPPORTFLOW_DELIVERY", "").strip().lower()
    if chosen:
        if chosen not in ("live", "outbox"):
            raise StackSettingsError(f"SUPPORTFLOW_DELIVERY={chosen!r} must be live or outbox")
        return chosen
    return "live" if any(environ.get(name, "").strip() for name in LIVE_SETTINGS) else "outbox"
