"""deploy/k8s validates against the Kubernetes schemas (kubernetes-validate) and is consistent:
probes on the ports the servers listen on and with the services they host, headless Services
and autoscalers for the stateless services, resources on every container, one Secret."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from tests.deploy.manifests import (
    K8S,
    SERVICE_NAMES,
    STATELESS,
    component,
    k8s_by_kind,
    k8s_files,
    k8s_objects,
    read_dockerfile,
    resolved_compose,
)

# gRPC probes are GA from 1.27; the newest schemas kubernetes-validate ships.
VERSIONS = ("1.27.0", kubernetes_validate.utils.latest_version())


def validate(document: dict, version: str) -> None:
    kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", k8s_files(), ids=lambda p: p.name)
def test_every_manifest_validates_against_the_kubernetes_schemas(path, version):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert documents
    for document in documents:
        try:
            validate(document, version)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name} {document['kind']}/{document['metadata']['name']}: {exc}")


def test_a_mistake_fails_validation():
    deployment = k8s_by_kind("Deployment")["parley-stt"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        validate(deployment, VERSIONS[-1])
    hpa = k8s_by_kind("HorizontalPodAutoscaler")["parley-stt"]
    hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = "70"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(hpa, VERSIONS[-1])


def test_the_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in k8s_files()]


def _container(deployment: dict) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_probes_ask_each_server_for_its_own_service_on_its_port():
    deployments = {component(d): d for d in k8s_by_kind("Deployment").values()}
    assert set(deployments) == {*SERVICE_NAMES, "gateway", "redis"}
    for name, service_name in SERVICE_NAMES.items():
        container = _container(deployments[name])
        port = int(_env(container)["PARLEY_PORT"])
        assert container["ports"][0] == {"name": "grpc", "containerPort": port}
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[kind]["grpc"] == {"port": port, "service": service_name}, name
    gateway = _container(deployments["gateway"])
    assert gateway["ports"][0] == {"name": "http", "containerPort": 8000}
    assert _env(gateway)["PARLEY_GATEWAY_PORT"] == "8000"
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/", "port": "http"}


def test_containers_run_what_compose_runs(tmp_path):
    compose = resolved_compose(tmp_path)["services"]
    for deployment in k8s_by_kind("Deployment").values():
        name = component(deployment)
        container = _container(deployment)
        assert container["command"] == compose[name]["command"], name
        if name != "redis":
            assert container["image"] == "parley", name


def test_prometheus_finds_the_metrics_where_they_are_served():
    for deployment in k8s_by_kind("Deployment").values():
        if component(deployment) not in SERVICE_NAMES:
            continue
        pod = deployment["spec"]["template"]
        container = _container(deployment)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        address = _env(container)["PARLEY_METRICS_ADDRESS"]
        assert address == f"0.0.0.0:{ports['metrics']}"
        annotations = pod["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(ports["metrics"])


def test_stateless_services_are_headless_and_autoscaled():
    services = {component(s): s for s in k8s_by_kind("Service").values()}
    hpas = {component(h): h for h in k8s_by_kind("HorizontalPodAutoscaler").values()}
    deployments = {component(d): d for d in k8s_by_kind("Deployment").values()}
    assert set(hpas) == set(STATELESS)
    rooms_env = _env(_container(deployments["rooms"]))
    for name in STATELESS:
        service = services[name]
        assert service["spec"]["clusterIP"] == "None", name
        port = service["spec"]["ports"][0]["port"]
        # dns:///: every ready pod behind the headless Service, balanced round robin.
        address = f"dns:///{service['metadata']['name']}:{port}"
        assert rooms_env[f"PARLEY_{name.upper()}_ADDRESS"] == address
        hpa = hpas[name]
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"parley-{name}"}
        assert hpa["spec"]["minReplicas"] >= 1 and hpa["spec"]["maxReplicas"] > 1
        # All the room service's streams carry one key: no per-key limit on the engines.
        assert _env(_container(deployments[name]))["PARLEY_MAX_STREAMS_PER_KEY"] == "0"
    # Threads per inference match what the container may use, not the node's cores.
    stt = _container(deployments["stt"])
    assert int(stt["resources"]["limits"]["cpu"]) == int(_env(stt)["PARLEY_STT_CPU_THREADS"])
    assert services["rooms"]["spec"].get("clusterIP") != "None"


def test_every_service_selects_a_deployment_and_targets_a_named_port():
    deployments = list(k8s_by_kind("Deployment").values())
    for service in k8s_by_kind("Service").values():
        selector = service["spec"]["selector"]
        (match,) = [
            d
            for d in deployments
            if all(
                d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items()
            )
        ]
        assert match["spec"]["selector"]["matchLabels"].items() <= selector.items()
        names = {p["name"] for p in _container(match)["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, service["metadata"]["name"]


def test_every_container_has_requests_and_limits_and_drops_privileges():
    for deployment in k8s_by_kind("Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        container = _container(deployment)
        name = deployment["metadata"]["name"]
        for part in ("requests", "limits"):
            assert set(container["resources"][part]) == {"cpu", "memory"}, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        env = _env(container)
        if "PARLEY_SHUTDOWN_GRACE_S" in env:
            # Kubernetes must not kill a server still draining its streams.
            assert pod["terminationGracePeriodSeconds"] > float(env["PARLEY_SHUTDOWN_GRACE_S"])


def test_parley_pods_run_as_the_image_user():
    user = read_dockerfile().one("USER")
    for deployment in k8s_by_kind("Deployment").values():
        if component(deployment) != "redis":
            context = deployment["spec"]["template"]["spec"]["securityContext"]
            assert str(context["runAsUser"]) == str(context["runAsGroup"]) == user


def test_the_api_key_comes_only_from_the_secret():
    text = "\n".join(p.read_text() for p in k8s_files())
    assert "kind: Secret" not in text  # created by the operator, never committed
    for deployment in k8s_by_kind("Deployment").values():
        name = component(deployment)
        if name == "redis":
            continue
        container = _container(deployment)
        secret_env = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container.get("env", [])
            if "valueFrom" in e
        }
        assert all(
            ref == {"name": "parley-api-key", "key": "api-key"} for ref in secret_env.values()
        )
        env = _env(container)
        if name in SERVICE_NAMES:
            assert env["PARLEY_AUTH"] == "required"
            assert env["PARLEY_API_KEYS_FILE"].startswith("/etc/parley/secrets/")
        expected = {"rooms": {"PARLEY_BACKEND_API_KEY"}, "gateway": {"PARLEY_API_KEY"}}
        assert set(secret_env) == expected.get(name, set()), name


def test_objects_have_unique_names():
    keys = [(o["kind"], o["metadata"]["name"]) for o in k8s_objects()]
    assert len(keys) == len(set(keys))
