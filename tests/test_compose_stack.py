"""The production compose stack, started for real with testcontainers: Temporal on PostgreSQL, the
setup jobs, two workers, the gateway, the UI, the proxy and the monitoring. It needs a Docker engine and skips without one
(these machines have none); test_compose.py checks the file itself everywhere.

It runs as its own compose project (`supportflow-stack-test-<random>`) from a copy of the deployment files
with its own secrets, so `down --volumes` at the end removes that project's volumes and nothing else: never a
production stack's, even when run from a deploy checkout on the production host."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
API_KEY = "stack-test-key"
START_TIMEOUT = 600.0
PROJECT = f"supportflow-stack-test-{uuid.uuid4().hex[:12]}"
DEPLOYMENT_FILES = ("docker-compose.yml", "Dockerfile", ".dockerignore", "pyproject.toml", "requirements.lock", "README.md",
                    "worker.py", "workflows", "activities", "starter", "policies", "deploy")  # fmt: skip


def docker_engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as problem:  # no socket, no daemon, no permission: all mean "cannot run the stack"
        return f"{type(problem).__name__}: {problem}".splitlines()[0]
    return None


def _stack_directory(root: Path) -> Path:
    """A copy of the deployment files with fresh test secrets: the test never reads or writes ./secrets."""
    for name in DEPLOYMENT_FILES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, root / name)
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700)
    values = {
        "postgres_password": uuid.uuid4().hex,
        "temporal_db_password": uuid.uuid4().hex,
        "archive_url": f"postgresql+psycopg://supportflow_archive:{uuid.uuid4().hex}@postgresql:5432/supportflow_archive",
        "ack_secret": uuid.uuid4().hex,
        "portal_secret": uuid.uuid4().hex,
        "api_keys": f"stack:{API_KEY}=intake+operate+admin",
        "encryption_key": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        "grafana_admin_password": uuid.uuid4().hex,
        "temporal_ui_users": "",
    }
    for name in ("smtp_password", "twilio_auth_token", "slack_signing_secret", "webhook_secret", "audit_webhook"):
        values[name] = ""
    for name, value in values.items():
        (secrets / name).write_text(value)
        (secrets / name).chmod(0o444)
    (root / ".env").write_text("SUPPORTFLOW_DOMAIN=localhost\nSUPPORTFLOW_BACKUP_DIR=./backups\n")
    return root


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[object]:
    problem = docker_engine_problem()
    if problem:
        pytest.skip(f"no Docker engine: {problem}")
    from testcontainers.compose import DockerCompose

    root = _stack_directory(tmp_path_factory.mktemp("stack"))
    previous = os.environ.get("COMPOSE_PROJECT_NAME")
    os.environ["COMPOSE_PROJECT_NAME"] = PROJECT  # read by every `docker compose` testcontainers runs
    compose = DockerCompose(root, compose_file_name="docker-compose.yml", env_file=str(root / ".env"), build=True)
    try:
        compose.start()  # `up --wait`: every healthcheck passed
        _until_healthy(compose)
        yield compose
    finally:
        compose.stop()  # `down --volumes` of this project: its own volumes only
        if previous is None:
            os.environ.pop("COMPOSE_PROJECT_NAME", None)
        else:
            os.environ["COMPOSE_PROJECT_NAME"] = previous


def _http(compose, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
    """A request to the gateway from inside its container: the gateway publishes no port, only the proxy does."""
    probe = (
        "import json, sys, urllib.request, urllib.error\n"
        f"request = urllib.request.Request('http://127.0.0.1:8000{path}', method={method!r}, "
        f"data={json.dumps(body).encode() if body else None!r}, "
        f"headers={{'Authorization': 'Bearer {API_KEY}', 'Content-Type': 'application/json'}})\n"
        "try:\n    answer = urllib.request.urlopen(request, timeout=30)\n"
        "except urllib.error.HTTPError as error:\n    answer = error\n"
        "print(answer.status); print(answer.read().decode())\n"
    )
    out, err, code = compose.exec_in_container(["python", "-c", probe], service_name="gateway")
    assert code == 0, err
    status, _, text = out.partition("\n")
    return int(status), text


def _until_healthy(compose) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if _http(compose, "GET", "/healthz")[0] == 200:
            return
        time.sleep(2)
    raise AssertionError(f"the gateway was not healthy after {START_TIMEOUT:.0f}s")


def _in_gateway(compose, *arguments: str) -> tuple[str, str, int]:
    return compose.exec_in_container(list(arguments), service_name="gateway")


def test_the_setup_job_left_the_namespace_ready(stack):
    compose = stack
    out, err, code = _in_gateway(compose, "supportflow", "setup-namespace", "--wait", "30")
    assert code == 0, err
    assert out.strip() == "namespace default: already set up, nothing to do"


def test_a_case_opens_through_the_gateway_and_a_worker_runs_it(stack):
    request = {
        "tenant": "blockit",
        "channel": "api",
        "severity": 3,
        "subject": "Stack test",
        "requester": {"name": "Ana Diaz", "email": "ana@clinic.example"},
        "source_id": uuid.uuid4().hex,
    }
    status, text = _http(stack, "POST", "/v1/cases", request)
    assert status == 201, text
    case_id = json.loads(text)["case_id"]
    deadline = time.monotonic() + 60
    while True:
        status, text = _http(stack, "GET", f"/v1/cases/{case_id}")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status == 200, text
    assert json.loads(text)["state"] == "open" and json.loads(text)["response_due_at"]


def test_the_workers_serve_metrics_to_other_containers(stack):
    compose = stack
    probe = (
        "import urllib.request; print(urllib.request.urlopen('http://worker:9464/metrics', timeout=5).read().decode())"
    )
    out, err, code = _in_gateway(compose, "python", "-c", probe)
    assert code == 0, err
    assert "temporal_num_pollers" in out


def test_the_audit_schedule_exists_and_finds_nothing_on_a_healthy_fleet(stack):
    compose = stack
    out, err, code = _in_gateway(compose, "supportflow", "audit", "run", "--json")
    assert code == 0, err
    assert json.loads(out)["missed"] == []
