"""Reading deploy/: its YAML documents, the k8s objects, the nginx server blocks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
NGINX = DEPLOY / "nginx"


def yaml_files() -> list[Path]:
    """Every YAML file under deploy/."""
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def k8s_objects() -> list[tuple[Path, dict[str, Any]]]:
    """Every object of every manifest in deploy/k8s/, with its file."""
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                found.append((path, doc))
    return found


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    for _, obj in k8s_objects():
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"no {kind} {name} in deploy/k8s/")


def app_nodes(compose: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The compose services that run a hearing node, with their environment."""
    return {
        name: {k: str(v) for k, v in svc["environment"].items()}
        for name, svc in compose["services"].items()
        if isinstance(svc.get("environment"), dict) and "HEARING_NODE_ID" in svc["environment"]
    }


_COMMENT = re.compile(r"#[^\n]*")


def nginx_text(path: Path) -> str:
    """An nginx file without its comments."""
    return _COMMENT.sub("", path.read_text(encoding="utf-8"))


def nginx_blocks(text: str, keyword: str) -> list[tuple[str, str]]:
    """``(argument, body)`` of each top-level ``keyword [arg] { ... }`` block."""
    blocks = []
    # A quoted argument (a location's regex) may hold braces.
    for m in re.finditer(rf'(?m)^\s*{keyword}\b((?:"[^"]*"|[^{{;"])*)\{{', text):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        blocks.append((m.group(1).strip(), text[m.end() : i - 1]))
    return blocks
