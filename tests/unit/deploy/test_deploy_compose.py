"""deploy/compose.yaml: a complete small court whose nodes differ only where they must.

No Docker engine here: the file is checked as YAML, against the settings the server really
has and against the nginx configuration it mounts; `docker-compose config` checks it against
the Compose specification (test_deploy_compose_config.py).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import yaml

from support.deploy_files import (
    DEPLOY,
    NGINX,
    app_nodes,
    load_compose,
    nginx_blocks,
    nginx_text,
    yaml_files,
)


def test_every_yaml_file_parses() -> None:
    assert yaml_files()
    for path in yaml_files():
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        assert docs, f"{path} holds no document"


def test_every_service_has_an_image_or_a_build() -> None:
    for name, svc in load_compose()["services"].items():
        assert "image" in svc or "build" in svc, name


def test_two_nodes_with_their_own_id_url_and_port_and_the_same_cluster() -> None:
    nodes = app_nodes(load_compose())
    assert len(nodes) >= 2
    for key in ("HEARING_NODE_ID", "HEARING_NODE_URL", "HEARING_PORT"):
        values = [env[key] for env in nodes.values()]
        assert len(set(values)) == len(values), f"{key} repeats: {values}"
    for key in ("HEARING_PUBLIC_URL", "HEARING_REDIS_URL", "HEARING_DATABASE_URL"):
        values = {env.get(key) for env in nodes.values()}
        assert len(values) == 1 and None not in values, f"{key} differs: {values}"
    # The keys every node must share (docs/operations.md "Several nodes") point at one place.
    for key in (
        "HEARING_SIGNING_KEY_PATH",
        "HEARING_IDENTITY_KEY_PATH",
        "HEARING_SERVING_KEY_PATH",
        "HEARING_RECORDING_KEY_PATH",
        "HEARING_SIGNING_DIR",
        "HEARING_TURN_SECRET_PATH",
        "HEARING_RECORDINGS_DIR",
        "HEARING_EVIDENCE_DIR",
        "HEARING_LIVESTREAM_DIR",
    ):
        values = {env.get(key) for env in nodes.values()}
        assert len(values) == 1 and None not in values, f"{key} differs: {values}"


def test_the_nodes_own_data_dirs_and_share_the_keys_volume() -> None:
    compose = load_compose()
    nodes = app_nodes(compose)
    data = [
        next(v for v in compose["services"][n]["volumes"] if v.endswith(":/var/lib/hearing/data"))
        for n in nodes
    ]
    assert len(set(data)) == len(data), f"nodes share a data dir (its run lock): {data}"
    declared = set(compose["volumes"])
    for name in nodes:
        for volume in compose["services"][name]["volumes"]:
            assert volume.split(":")[0] in declared, volume
    first, *others = nodes
    for name in others:
        # The first node creates the shared keys; the others start after it.
        assert compose["services"][name]["depends_on"][first]["condition"] == "service_healthy"


def test_healthchecks_and_a_stop_grace_longer_than_the_servers_own() -> None:
    compose = load_compose()
    services = compose["services"]
    for name in [*app_nodes(compose), "postgres", "redis"]:
        assert services[name]["healthcheck"]["test"], name
    for name, env in app_nodes(compose).items():
        assert any("/healthz" in part for part in services[name]["healthcheck"]["test"])
        grace = int(re.fullmatch(r"(\d+)s", services[name]["stop_grace_period"]).group(1))  # type: ignore[union-attr]
        assert grace > int(env["HEARING_SHUTDOWN_GRACE_SECONDS"]) + 8


def test_secrets_and_env_files_are_examples_only() -> None:
    compose = load_compose()
    for name, secret in compose["secrets"].items():
        real = (DEPLOY / secret["file"]).resolve()
        example = real.with_name(real.name + ".example")
        assert example.is_file(), f"secret {name}: no {example.name}"
        assert "REPLACE" in example.read_text(encoding="utf-8")
    for name, svc in compose["services"].items():
        if "env_file" in svc:
            example = DEPLOY / (svc["env_file"] + ".example")
            assert example.is_file(), f"{name}: no {example}"
    ignored = (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()
    assert "secrets/*" in ignored and "!secrets/*.example" in ignored


def test_mounted_files_exist() -> None:
    for name, svc in load_compose()["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and "tls" not in source:
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"


def test_nginx_routes_each_node_url_to_its_node_and_the_entry_to_all() -> None:
    nodes = app_nodes(load_compose())
    text = nginx_text(NGINX / "hearing.conf")
    upstreams = {
        name: set(re.findall(r"server\s+127\.0\.0\.1:(\d+)", body))
        for name, body in nginx_blocks(text, "upstream")
    }
    routes = {}
    for _, body in nginx_blocks(text, "server"):
        names = re.search(r"server_name\s+([^;]+);", body)
        upstream = re.search(r"set\s+\$hearing_upstream\s+(\w+);", body)
        if names and upstream:
            for host in names.group(1).split():
                routes[host] = upstreams[upstream.group(1)]
    ports = {env["HEARING_PORT"] for env in nodes.values()}
    entry = urlsplit(next(iter(nodes.values()))["HEARING_PUBLIC_URL"]).hostname
    assert routes[entry] == ports
    for env in nodes.values():
        assert routes[urlsplit(env["HEARING_NODE_URL"]).hostname] == {env["HEARING_PORT"]}
