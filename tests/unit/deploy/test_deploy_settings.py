"""Every HEARING_* variable named anywhere in deploy/ is a setting the server has, and the
values given to the nodes load through the server's own loader: a misspelt name, which the
loader would silently ignore, or a value it cannot use fails here and not on a court's host."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from hearing_server.config import Settings, load_settings
from support.deploy_files import DEPLOY, app_nodes, k8s_object, load_compose

NAME = re.compile(r"\bHEARING_[A-Z0-9_]+\b")
SETTINGS = {f"HEARING_{f.name.upper()}" for f in fields(Settings)} | {"HEARING_CONFIG"}


def _deploy_files() -> list[Path]:
    # deploy/grafana/ names metrics (hearing_server_*), not settings.
    return [
        p
        for p in sorted(DEPLOY.rglob("*"))
        if p.is_file() and "grafana" not in p.relative_to(DEPLOY).parts
    ]


def _env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def test_every_hearing_variable_in_deploy_is_a_setting() -> None:
    seen = 0
    for path in _deploy_files():
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            seen += 1
            assert name in SETTINGS, f"{path.relative_to(DEPLOY)}: {name} is not a setting"
    assert seen > 20


def test_compose_nodes_settings_load(tmp_path: Path) -> None:
    secrets = _env_file(DEPLOY / "secrets" / "app.env.example")
    for name, env in app_nodes(load_compose()).items():
        settings = load_settings(env={**env, **secrets, "HEARING_DATA_DIR": str(tmp_path)})
        assert settings.effective_node_id == env["HEARING_NODE_ID"], name
        assert settings.redis_url and settings.database_url, name
        assert settings.turn_urls, name


def test_k8s_pod_settings_load(tmp_path: Path) -> None:
    config = k8s_object("ConfigMap", "hearing-server")["data"]
    secret = k8s_object("Secret", "hearing-server")["stringData"]
    (container,) = k8s_object("StatefulSet", "hearing-server")["spec"]["template"]["spec"][
        "containers"
    ]
    # What the kubelet fills in from the downward API.
    pod = {"POD_NAME": "hearing-server-0", "HOST_IP": "192.0.2.7"}
    env = {**config, **secret}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: pod[m.group(1)], item["value"])
    settings = load_settings(env={**env, "HEARING_DATA_DIR": str(tmp_path)})
    assert settings.effective_node_id == "hearing-server-0"
    assert settings.effective_node_url == "https://hearing-server-0.court.example"
    assert settings.media_announced_addresses == ["192.0.2.7"]
    assert settings.port == 8080 and settings.host == "0.0.0.0"
