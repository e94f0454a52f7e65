"""The production compose stack, started for real with testcontainers: Temporal on PostgreSQL, the
setup jobs, two workers, the gateway and the UI. It needs a Docker engine and skips without one
(these machines have none); test_compose.py checks the file itself everywhere."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
API_KEY = "stack-test-key"
START_TIMEOUT = 600.0


def docker_engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as problem:  # no socket, no daemon, no permission: all mean "cannot run the stack"
        return f"{type(problem).__name__}: {problem}".splitlines()[0]
    return None


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[tuple[object, str]]:
    problem = docker_engine_problem()
    if problem:
        pytest.skip(f"no Docker engine: {problem}")
    from testcontainers.compose import DockerCompose

    env_file = tmp_path_factory.mktemp("stack") / "stack.env"
    env_file.write_text(
        f"POSTGRES_PASSWORD={uuid.uuid4().hex}\nSUPPORTFLOW_ACK_SECRET={uuid.uuid4().hex}\n"
        f"SUPPORTFLOW_API_KEYS={API_KEY}=intake+operate+admin\nSUPPORTFLOW_PUBLIC_URL=http://localhost:8000\n"
        "SUPPORTFLOW_GATEWAY_PORT=0\nTEMPORAL_GRPC_PORT=0\nTEMPORAL_UI_PORT=0\n"
    )
    compose = DockerCompose(
        REPO, compose_file_name="docker-compose.yml", env_file=str(env_file), build=True, wait=False
    )
    compose.start()
    try:
        gateway = f"http://127.0.0.1:{compose.get_service_port('gateway', 8000)}"
        _until_healthy(gateway)
        yield compose, gateway
    finally:
        compose.stop()  # also removes the volumes (keep_volumes=False)


def _until_healthy(gateway: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{gateway}/healthz", timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(2)
    raise AssertionError(f"the gateway at {gateway} was not healthy after {START_TIMEOUT:.0f}s")


def _in_gateway(compose, *arguments: str) -> tuple[str, str, int]:
    return compose.exec_in_container(list(arguments), service_name="gateway")


def test_the_setup_job_left_the_namespace_ready(stack):
    compose, _ = stack
    out, err, code = _in_gateway(compose, "supportflow", "setup-namespace", "--wait", "30")
    assert code == 0, err
    assert out.strip() == "namespace default: already set up, nothing to do"


def test_a_case_opens_through_the_gateway_and_a_worker_runs_it(stack):
    _, gateway = stack
    headers = {"Authorization": f"Bearer {API_KEY}"}
    request = {
        "tenant": "blockit",
        "channel": "api",
        "severity": 3,
        "subject": "Stack test",
        "requester": {"name": "Ana Diaz", "email": "ana@clinic.example"},
        "source_id": uuid.uuid4().hex,
    }
    opened = httpx.post(f"{gateway}/v1/cases", json=request, headers=headers, timeout=30)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    deadline = time.monotonic() + 60
    while True:
        status = httpx.get(f"{gateway}/v1/cases/{case_id}", headers=headers, timeout=30)
        if status.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status.status_code == 200, status.text
    assert status.json()["state"] == "open" and status.json()["response_due_at"]


def test_the_workers_serve_metrics_to_other_containers(stack):
    compose, _ = stack
    probe = (
        "import urllib.request; print(urllib.request.urlopen('http://worker:9464/metrics', timeout=5).read().decode())"
    )
    out, err, code = _in_gateway(compose, "python", "-c", probe)
    assert code == 0, err
    assert "temporal_num_pollers" in out


def test_the_audit_schedule_exists_and_finds_nothing_on_a_healthy_fleet(stack):
    compose, _ = stack
    out, err, code = _in_gateway(compose, "supportflow", "audit", "run", "--json")
    assert code == 0, err
    assert json.loads(out)["missed"] == []
