"""deploy/k8s/: objects whose probes, drain hook, budgets, Services and Ingress fit together
(each object against Kubernetes' schemas: test_deploy_k8s_schema.py). No cluster here."""

from __future__ import annotations

import re
from typing import Any

from support.deploy_files import k8s_object, k8s_objects

STATEFULSET = "hearing-server"


def _pod() -> dict[str, Any]:
    return k8s_object("StatefulSet", STATEFULSET)["spec"]["template"]


def _container() -> dict[str, Any]:
    (container,) = _pod()["spec"]["containers"]
    return container


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container["env"]}


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_every_object_has_api_version_kind_and_name() -> None:
    objects = k8s_objects()
    assert {o["kind"] for _, o in objects} >= {
        "StatefulSet",
        "Service",
        "ConfigMap",
        "Secret",
        "PodDisruptionBudget",
        "Ingress",
    }
    for path, obj in objects:
        assert obj.get("apiVersion") and obj.get("kind"), path
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", obj["metadata"]["name"]), path


def test_probes_use_readyz_and_healthz_on_the_servers_port() -> None:
    container = _container()
    port = int(k8s_object("ConfigMap", "hearing-server")["data"]["HEARING_PORT"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe, path in (
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert ports.get(get["port"], get["port"]) == port, probe


def test_prestop_drains_and_the_grace_covers_drain_and_shutdown() -> None:
    container = _container()
    hook = " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    assert '"POST", "/api/node/drain"' in hook
    assert '"GET", "/api/node"' in hook and "X-API-Key" in hook
    config = k8s_object("ConfigMap", "hearing-server")["data"]
    wait = int(_env(container)["DRAIN_WAIT_SECONDS"])
    grace = _pod()["spec"]["terminationGracePeriodSeconds"]
    assert grace > wait + int(config["HEARING_SHUTDOWN_GRACE_SECONDS"]) + 8


def test_stable_node_ids_and_one_hostname_per_pod() -> None:
    statefulset = k8s_object("StatefulSet", STATEFULSET)
    env = _env(_container())
    assert env["HEARING_NODE_ID"] == "$(POD_NAME)"
    assert "$(POD_NAME)" in env["HEARING_NODE_URL"]
    assert _pod()["spec"]["hostNetwork"] is True
    assert _pod()["spec"]["dnsPolicy"] == "ClusterFirstWithHostNet"
    ingress = k8s_object("Ingress", "hearing-server")
    hosts = {rule["host"]: rule for rule in ingress["spec"]["rules"]}
    tls_hosts = {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
    public = k8s_object("ConfigMap", "hearing-server")["data"]["HEARING_PUBLIC_URL"]
    assert public.split("//")[1] in hosts
    for i in range(statefulset["spec"]["replicas"]):
        pod = f"{STATEFULSET}-{i}"
        host = env["HEARING_NODE_URL"].replace("$(POD_NAME)", pod).split("//")[1]
        assert host in hosts and host in tls_hosts, host
        service = k8s_object("Service", pod)
        assert service["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == pod
        # A draining pod is not ready; its hearings' clients must still reach it.
        assert service["spec"]["publishNotReadyAddresses"] is True
        backends = {p["backend"]["service"]["name"] for p in hosts[host]["http"]["paths"]}
        assert pod in backends


def test_selectors_match_the_pods() -> None:
    labels = _pod()["metadata"]["labels"]
    statefulset = k8s_object("StatefulSet", STATEFULSET)
    assert _matches(statefulset["spec"]["selector"]["matchLabels"], labels)
    assert k8s_object("Service", statefulset["spec"]["serviceName"])
    pdb = k8s_object("PodDisruptionBudget", "hearing-server")
    assert _matches(pdb["spec"]["selector"]["matchLabels"], labels)
    for _, obj in k8s_objects():
        if obj["kind"] == "Service" and obj["metadata"]["name"].startswith("hearing-server"):
            assert _matches(
                {k: v for k, v in obj["spec"]["selector"].items() if "pod-name" not in k}, labels
            )


def test_ingress_backends_exist() -> None:
    services = {o["metadata"]["name"]: o for _, o in k8s_objects() if o["kind"] == "Service"}
    for rule in k8s_object("Ingress", "hearing-server")["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            ports = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] in ports


def test_volumes_and_config_are_declared() -> None:
    pod = _pod()["spec"]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    for claim in claims:
        assert k8s_object("PersistentVolumeClaim", claim)
    container = _container()
    for source in container["envFrom"]:
        kind, ref = next(iter(source.items()))
        assert k8s_object({"configMapRef": "ConfigMap", "secretRef": "Secret"}[kind], ref["name"])


def test_the_secret_holds_placeholders_only() -> None:
    secret = k8s_object("Secret", "hearing-server")
    assert secret["stringData"]
    for key, value in secret["stringData"].items():
        assert value.startswith("REPLACE"), key
