"""deploy/k8s/, checked without a cluster: every built-in resource against Kubernetes' own JSON schemas (the
kubernetes-validate package, strict: an unknown field is an error), and the wiring between them: the worker and
the gateway share one ConfigMap and one Secret, the ServiceMonitor finds the workers' metrics port, and the HPA
scales the worker Deployment. The ServiceMonitor is a Prometheus Operator CRD, which no PyPI package ships a
schema for, so it is checked by its wiring only."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = sorted((REPO / "deploy" / "k8s").glob("*.yaml"))
RESOURCES = [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]
BY_KIND_NAME = {(doc["kind"], doc["metadata"]["name"]): doc for doc in RESOURCES}
CRDS = {"monitoring.coreos.com/v1"}
KUBERNETES = "1.33.0"  # the oldest Kubernetes still supported upstream when this was written


@pytest.mark.parametrize(
    "resource",
    [r for r in RESOURCES if r["apiVersion"] not in CRDS],
    ids=lambda r: f"{r['kind']}/{r['metadata']['name']}",
)
def test_every_builtin_resource_is_valid_against_the_kubernetes_schema(resource):
    kubernetes_validate.validate(resource, KUBERNETES, strict=True)


def test_the_validator_rejects_what_kubernetes_would():
    deployment = yaml.safe_load(yaml.safe_dump(BY_KIND_NAME["Deployment", "supportflow-worker"]))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def pod(name: str) -> dict:
    return BY_KIND_NAME["Deployment", name]["spec"]["template"]["spec"]


def test_the_worker_and_the_gateway_share_one_configmap_and_one_secret():
    for name in ("supportflow-worker", "supportflow-gateway"):
        (container,) = pod(name)["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": "supportflow"}}]
        volumes = {v["name"]: v for v in pod(name)["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == "supportflow"
        assert {"name": "secrets", "mountPath": "/run/secrets", "readOnly": True} in container["volumeMounts"]
        assert container["resources"]["limits"]["memory"]
    config = BY_KIND_NAME["ConfigMap", "supportflow"]["data"]
    for key, value in config.items():
        if key.endswith("_FILE"):
            assert value.startswith("/run/secrets/"), key
        assert not any(word in key for word in ("PASSWORD", "SECRET", "TOKEN", "_KEY")) or key.endswith("_FILE"), key
    assert (
        pod("supportflow-worker")["containers"][0]["args"],
        pod("supportflow-gateway")["containers"][0]["args"][0],
    ) == (
        ["worker"],
        "gateway",
    )


def test_the_servicemonitor_scrapes_the_workers_metrics_port():
    monitor = BY_KIND_NAME["ServiceMonitor", "supportflow-worker"]
    service = BY_KIND_NAME["Service", "supportflow-worker-metrics"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    labels = BY_KIND_NAME["Deployment", "supportflow-worker"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = pod("supportflow-worker")["containers"]
    assert {"name": "metrics", "containerPort": 9464} in container["ports"]
    assert {"name": "SUPPORTFLOW_METRICS_PORT", "value": "9464"} in container["env"]
    assert {"targetLabel": "job", "replacement": "supportflow-worker"} in endpoint["relabelings"]


def test_the_hpa_scales_the_workers_on_the_task_queue_backlog():
    hpa = BY_KIND_NAME["HorizontalPodAutoscaler", "supportflow-worker"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "supportflow-worker"}
    (metric,) = hpa["metrics"]
    assert metric["type"] == "External" and metric["external"]["metric"]["name"] == "temporal_task_queue_backlog"
    assert metric["external"]["metric"]["selector"]["matchLabels"] == {"taskqueue": "support-cases"}
    doc = (REPO / "docs" / "kubernetes.md").read_text()
    assert "temporal_task_queue_backlog" in doc and "approximate_backlog_count" in doc
