"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the services a production
stack needs, pinned official images, ports, every variable documented, healthchecks, start order,
and a setup job that registers exactly the contract's search attributes. The stack itself is
started by test_compose_stack.py where an engine is reachable."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from starter.cli import build_parser
from starter.namespace_setup import contract_attributes
from workflows import search_attributes

REPO = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (REPO / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
OPERATIONS = (REPO / "docs" / "operations.md").read_text()
EXAMPLE_ENV = (REPO / "deploy" / "example.env").read_text()
DOCKERFILE = (REPO / "Dockerfile").read_text()

ONE_SHOT = {"temporal-schema", "setup", "audit-schedule"}
LONG_RUNNING = {"postgresql", "temporal", "temporal-ui", "worker", "gateway"}
APP = {"setup", "audit-schedule", "worker", "gateway"}
OFFICIAL = {"postgres", "temporalio/server", "temporalio/admin-tools", "temporalio/ui"}
SECRETS = {"POSTGRES_PASSWORD", "SUPPORTFLOW_ACK_SECRET", "SUPPORTFLOW_API_KEYS"}
# ${NAME}, ${NAME:-default}, ${NAME:?message}; `$$` is a literal dollar for the container's shell.
REFERENCE = re.compile(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def references() -> dict[str, set[str]]:
    """Each variable the compose file interpolates, with the operators it is used with ('' bare, ':-', ':?')."""
    found: dict[str, set[str]] = {}
    for name, operator, _ in REFERENCE.findall(COMPOSE_TEXT):
        found.setdefault(name, set()).add(operator)
    return found


def command(service: str) -> list[str]:
    given = SERVICES[service]["command"]
    return given if isinstance(given, list) else shlex.split(given)


def test_the_stack_has_temporal_on_postgresql_the_ui_workers_gateway_and_setup_jobs():
    assert set(SERVICES) == ONE_SHOT | LONG_RUNNING
    temporal = SERVICES["temporal"]["environment"]
    assert temporal["DB"] == "postgres12" and temporal["POSTGRES_SEEDS"] == "postgresql"
    assert "postgresql-data:/var/lib/postgresql/data" in SERVICES["postgresql"]["volumes"]
    assert "postgresql-data" in COMPOSE["volumes"]


def test_every_image_is_official_and_pinned_and_temporal_tools_match_the_server():
    for name, service in SERVICES.items():
        image = service["image"]
        assert "latest" not in image, f"{name}: {image} is not pinned"
        if name in APP:
            assert service["build"] == "." and image == "supportflow:${SUPPORTFLOW_VERSION:-0.1.0}", name
        else:
            repository, _, tag = image.rpartition(":")
            assert repository in OFFICIAL, f"{name}: {image} is not an official image"
            assert re.fullmatch(r"\d+(\.\d+)+(-[\w.-]+)?", tag), f"{name}: {image} is not a version tag"
    server = SERVICES["temporal"]["image"].split(":")[1]
    assert SERVICES["temporal-schema"]["image"].split(":")[1].startswith(f"{server}-")


def test_ports_publish_the_gateway_and_keep_temporal_and_the_ui_on_localhost():
    assert SERVICES["gateway"]["ports"] == ["${SUPPORTFLOW_GATEWAY_PORT:-8000}:8000"]
    assert SERVICES["temporal"]["ports"] == ["127.0.0.1:${TEMPORAL_GRPC_PORT:-7233}:7233"]
    assert SERVICES["temporal-ui"]["ports"] == ["127.0.0.1:${TEMPORAL_UI_PORT:-8080}:8080"]
    for private in ("postgresql", "worker", *ONE_SHOT):
        assert "ports" not in SERVICES[private], f"{private} must not publish a port"


def test_every_variable_is_documented_and_every_secret_is_required():
    used = references()
    undocumented = sorted(name for name in used if f"`{name}`" not in OPERATIONS)
    assert not undocumented, f"docs/operations.md does not describe {undocumented}"
    missing_from_example = sorted(name for name in used if not re.search(rf"^#? ?{name}=", EXAMPLE_ENV, re.M))
    assert not missing_from_example, f"deploy/example.env does not list {missing_from_example}"
    for secret in SECRETS:
        assert used[secret] == {":?"}, f"{secret} must be required (${{{secret}:?…}}), never defaulted"
    for service in SERVICES.values():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET", "TOKEN", "KEYS", "PWD")):
                assert str(value).startswith("${"), f"{key} must come from the environment, not the file"


def test_every_long_running_service_has_a_healthcheck_and_restarts():
    for name in LONG_RUNNING:
        service = SERVICES[name]
        check = service["healthcheck"]["test"]
        assert check[0] in ("CMD", "CMD-SHELL") and len(check) > 1, name
        assert service["restart"] == "unless-stopped", name
    for name in ONE_SHOT:
        assert SERVICES[name]["restart"] == "no" and "healthcheck" not in SERVICES[name], name


def test_start_order_waits_for_health_and_for_one_shot_jobs_to_succeed():
    for name, service in SERVICES.items():
        for dependency, how in (service.get("depends_on") or {}).items():
            condition = how["condition"]
            if dependency in ONE_SHOT:
                assert condition == "service_completed_successfully", f"{name} → {dependency}"
            else:
                assert condition == "service_healthy" and "healthcheck" in SERVICES[dependency], (
                    f"{name} → {dependency}"
                )
    order = {name: set(service.get("depends_on") or {}) for name, service in SERVICES.items()}
    assert order["temporal"] == {"temporal-schema"} and order["temporal-schema"] == {"postgresql"}
    assert order["setup"] == {"temporal"}
    assert order["worker"] == order["gateway"] == {"setup"}
    assert order["audit-schedule"] == {"setup"}


def test_the_setup_job_registers_exactly_the_contract_search_attributes():
    assert command("setup")[0] == "setup-namespace"
    build_parser().parse_args(command("setup"))
    assert contract_attributes() == {key.name: key.indexed_value_type for key in search_attributes.ALL}
    # Nothing else in the stack registers attributes: auto-setup, for one, would add Custom*Field ones and
    # use up SQL visibility's three Datetime slots that ResponseDueAt, ResolutionDueAt and NextDueAt need.
    assert "search-attribute" not in COMPOSE_TEXT and "auto-setup" not in COMPOSE_TEXT
    assert SERVICES["setup"]["environment"]["TEMPORAL_NAMESPACE"] == "${TEMPORAL_NAMESPACE:-default}"


def test_the_schema_job_sets_up_both_temporal_databases():
    script = command("temporal-schema")[-1]
    assert "temporal:temporal temporal_visibility:visibility" in script
    assert "/etc/temporal/schema/postgresql/v12/$$schema/versioned" in script
    assert SERVICES["temporal-schema"]["environment"]["SQL_PLUGIN"] == "postgres12"


def test_workers_are_replicated_and_serve_metrics_to_other_containers():
    worker = SERVICES["worker"]
    assert command("worker") == ["worker"]
    assert worker["deploy"]["replicas"] == 2
    environment = worker["environment"]
    assert environment["SUPPORTFLOW_METRICS_HOST"] == "0.0.0.0"
    port = environment["SUPPORTFLOW_METRICS_PORT"]
    assert port in worker["expose"][0] and f"127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])
    assert environment["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert environment["SUPPORTFLOW_TASK_QUEUE"] == "${SUPPORTFLOW_TASK_QUEUE:-support-cases}"


def test_the_gateway_listens_on_every_interface_and_is_checked_on_healthz():
    assert command("gateway") == ["gateway", "--host", "0.0.0.0", "--port", "8000"]
    assert "127.0.0.1:8000/healthz" in " ".join(SERVICES["gateway"]["healthcheck"]["test"])
    assert SERVICES["gateway"]["environment"]["SUPPORTFLOW_API_KEYS"].startswith("${SUPPORTFLOW_API_KEYS:?")


def test_the_ui_decodes_payloads_through_the_gateway_codec_with_credentials():
    ui = SERVICES["temporal-ui"]["environment"]
    assert ui["TEMPORAL_ADDRESS"] == "temporal:7233"
    # The browser fetches the codec endpoint, so it is the gateway's public URL, not its service name.
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == "${SUPPORTFLOW_PUBLIC_URL:?set SUPPORTFLOW_PUBLIC_URL}/codec"
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"


def test_the_worker_and_gateway_share_the_ack_secret_and_public_url():
    for name in ("worker", "gateway"):
        environment = SERVICES[name]["environment"]
        assert environment["SUPPORTFLOW_ACK_SECRET"].startswith("${SUPPORTFLOW_ACK_SECRET:?")
        assert environment["SUPPORTFLOW_PUBLIC_URL"].startswith("${SUPPORTFLOW_PUBLIC_URL:?")
        assert "./policies:/app/policies:ro" in SERVICES[name]["volumes"]


def test_mounted_files_exist_and_the_server_keeps_updates_on():
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{source} is mounted but missing"
    dynamic = yaml.safe_load((REPO / "deploy" / "temporal" / "dynamicconfig.yaml").read_text())
    assert dynamic["frontend.enableUpdateWorkflowExecution"] == [{"value": True}]


def test_the_dockerfile_is_pinned_and_its_entrypoint_and_every_app_command_exist():
    base = re.search(r"^FROM (\S+)", DOCKERFILE, re.M).group(1)
    assert ":" in base and "latest" not in base and re.search(r":\d+\.\d+\.\d+", base), base
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (.+)$", DOCKERFILE, re.M).group(1))
    default = json.loads(re.search(r"^CMD (.+)$", DOCKERFILE, re.M).group(1))
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["supportflow"] and entrypoint[0] in scripts
    parser = build_parser()
    for arguments in [default, *(command(name) for name in APP)]:
        parser.parse_args(arguments)  # an unknown subcommand or option exits with an error


def test_the_image_leaves_out_what_production_does_not_run():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv", ".data", ".git", "tests"} <= set(ignored)


@pytest.mark.skipif(shutil.which("docker") is None, reason="no Docker CLI to run `docker compose config`")
def test_docker_compose_accepts_the_file(tmp_path):
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no Docker compose plugin: `docker compose config` cannot validate the file here")
    env = tmp_path / ".env"
    env.write_text("".join(f"{name}=x\n" for name in SECRETS) + "SUPPORTFLOW_PUBLIC_URL=http://localhost:8000\n")
    checked = subprocess.run(
        ["docker", "compose", "--env-file", str(env), "-f", str(REPO / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
