"""`docker-compose config` accepts deploy/compose.yaml, as an operator would run it.

Debian's `docker-compose` (1.29, which validates against the Compose specification's schema
and resolves the file without a Docker engine) stands in for the `docker compose` plugin,
which has no Debian package. The secret files an operator creates first are made from the
`.example` files in a copy of deploy/, as deploy/secrets/README.md tells.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from support.deploy_files import DEPLOY

COMPOSE_BIN = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    COMPOSE_BIN is None, reason="docker-compose (Debian package docker-compose) is not installed"
)


def _deploy_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("app.env", "turn_secret"))
    secrets = copy / "secrets"
    for example in secrets.glob("*.example"):
        target = secrets / example.name.removesuffix(".example")
        target.write_bytes(example.read_bytes())
        target.chmod(0o600)
    return copy


def _config(compose_file: Path) -> subprocess.CompletedProcess[str]:
    assert COMPOSE_BIN is not None
    return subprocess.run(
        [COMPOSE_BIN, "-f", str(compose_file), "config"],
        cwd=compose_file.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_compose
def test_compose_config_accepts_the_file_and_resolves_every_service(tmp_path: Path) -> None:
    deploy = _deploy_copy(tmp_path)
    done = _config(deploy / "compose.yaml")
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    wanted = set(yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"])
    assert set(resolved["services"]) == wanted
    # The app nodes took their environment from secrets/app.env as well as from the file.
    app_env = {
        line.split("=", 1)[0]
        for line in (deploy / "secrets" / "app.env").read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    nodes = [
        s for s in resolved["services"].values() if "HEARING_NODE_ID" in s.get("environment", {})
    ]
    assert len(nodes) >= 2
    for node in nodes:
        assert app_env <= set(node["environment"]), app_env - set(node["environment"])


@needs_compose
def test_compose_config_refuses_a_broken_file(tmp_path: Path) -> None:
    """The check can fail: a misspelt option is refused with its name."""
    deploy = _deploy_copy(tmp_path)
    data = yaml.safe_load((deploy / "compose.yaml").read_text(encoding="utf-8"))
    data["services"]["redis"]["restart_policy"] = "always"
    broken = deploy / "broken.yaml"
    broken.write_text(yaml.safe_dump(data), encoding="utf-8")
    done = _config(broken)
    assert done.returncode != 0
    assert "restart_policy" in done.stderr
