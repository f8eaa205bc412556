"""The preStop hook of deploy/k8s/statefulset.yaml, run as the kubelet would against a real
server: it drains the node (/readyz turns 503 draining) and returns once no hearing is left."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import aiohttp
from aiohttp.test_utils import TestServer

from support.deploy_files import k8s_object


def _hook() -> list[str]:
    (container,) = k8s_object("StatefulSet", "hearing-server")["spec"]["template"]["spec"][
        "containers"
    ]
    command: list[str] = container["lifecycle"]["preStop"]["exec"]["command"]
    return command


async def _run_hook(port: int, key: str) -> tuple[int, str, float]:
    program, *args = _hook()
    assert program == "python"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HEARING_PORT": str(port),
        "HEARING_ADMIN_API_KEY": key,
        "DRAIN_WAIT_SECONDS": "20",
    }
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, err.decode(), time.monotonic() - started


async def test_prestop_drains_the_node_and_returns_when_it_serves_nothing(
    server: TestServer, admin_headers: dict[str, str]
) -> None:
    code, err, took = await _run_hook(server.port, admin_headers["X-API-Key"])
    assert code == 0, err
    assert took < 10  # no hearing to wait for
    async with aiohttp.ClientSession() as http:
        ready = await http.get(f"http://127.0.0.1:{server.port}/readyz")
        assert ready.status == 503 and (await ready.json())["status"] == "draining"
        node = await http.get(f"http://127.0.0.1:{server.port}/api/node", headers=admin_headers)
        assert (await node.json())["node"]["draining"] is True


async def test_prestop_with_a_wrong_key_fails_loudly(server: TestServer) -> None:
    code, err, _ = await _run_hook(server.port, "not-the-key")
    assert code != 0 and "drain failed" in err and "401" in err
