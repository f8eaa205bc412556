"""HTTP fuzzing of a real server with schemathesis, from the server's own OpenAPI document.

A real ``hearing-server serve`` process (real store, on 127.0.0.1) is fuzzed once per
credential: none, a party's and the judge's join tokens, a staff token and the admin key (the
most destructive last: it may revoke the others' links). Every operation is run with
schemathesis' examples, coverage, fuzzing and stateful phases, the path parameters pointing
at a real hearing and participant half of the time (the other half random), and checked for:
no 5xx, every answer in the documented schema, content type and headers, and an answer within
``REQUEST_TIMEOUT_S`` (a hang). ``POST /api/node/drain`` is left out: it takes the node out
of service by design, in the fuzzer's first second.

Used by tests/integration/fuzz (a short run) and bench/fuzz (the long run).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from testbed.nodes import ADMIN_KEY, ServerProcess, open_hearing_with, start_server_process

CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "status_code_conformance",
)
REQUEST_TIMEOUT_S = 10
# the coverage phase (boundary values of every field, thousands of cases whatever
# max_examples is) makes the long run; the suite's short run fuzzes and walks the links
ALL_PHASES = "examples,coverage,fuzzing,stateful"
ROLES = ("none", "party", "judge", "staff", "admin")
# Fuzzing must find bugs, not the login limits: they have tests of their own.
SERVER_SETTINGS = {
    "login_requests_per_minute": "1000000",
    "login_requests_per_minute_per_token": "1000000",
}


@dataclass(frozen=True)
class FuzzResult:
    """One credential's run: schemathesis' counts and exit status, and the server's 5xx."""

    role: str
    generated: int
    failures: int
    exit_code: int
    output: str

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "generated": self.generated,
            "failures": self.failures,
            "exit_code": self.exit_code,
        }


def schemathesis_binary() -> str | None:
    """The ``st`` command of this interpreter's environment, if installed."""
    beside = Path(sys.executable).with_name("st")
    return str(beside) if beside.exists() else shutil.which("st")


async def _credentials(base: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Headers per role, and the path parameters of the real hearing and participant."""
    hid, tokens = await open_hearing_with(base, ("judge", "王法官"), ("party", "张三"))
    admin = {"X-API-Key": ADMIN_KEY}
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{base}/api/staff-tokens", json={"name": "书记员"}, headers=admin)
        assert resp.status == 201, await resp.text()
        staff = str((await resp.json())["token"])
        resp = await http.get(f"{base}/api/hearings/{hid}", headers=admin)
        assert resp.status == 200, await resp.text()
        people = {p["display_name"]: p["id"] for p in (await resp.json())["participants"]}
    headers = {
        "none": {},
        "party": {"Authorization": f"Bearer {tokens['张三']}"},
        "judge": {"Authorization": f"Bearer {tokens['王法官']}"},
        "staff": {"Authorization": f"Bearer {staff}"},
        "admin": admin,
    }
    return headers, {"hearing_id": hid, "participant_id": people["张三"]}


def _config(path: Path, parameters: dict[str, str]) -> Path:
    lines = ["[parameters]"]
    lines += [f'"path.{name}" = {json.dumps(value)}' for name, value in parameters.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _run_role(
    st: str,
    base: str,
    role: str,
    headers: dict[str, str],
    config: Path | None,
    max_examples: int,
    seed: int | None,
    phases: str,
    workdir: Path,
) -> FuzzResult:
    args = [st]
    if config is not None:
        args += ["--config-file", str(config)]
    args += [
        "--no-color",
        "run",
        f"{base}/api/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(max_examples),
        "--request-timeout",
        str(REQUEST_TIMEOUT_S),
        "--exclude-path",
        "/api/node/drain",
        "--workers",
        "1",
        "--warnings",
        "off",
        "--phases",
        phases,
    ]
    if seed is not None:
        args += ["--seed", str(seed)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=workdir,  # schemathesis keeps its cache (.schemathesis/) in its working directory
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    generated = re.search(r"(\d+) generated", text)
    failures = re.search(r"(\d+) unique failures", text)
    return FuzzResult(
        role,
        int(generated.group(1)) if generated else 0,
        int(failures.group(1)) if failures else 0,
        proc.returncode if proc.returncode is not None else -1,
        text,
    )


def server_errors(log: Path) -> list[str]:
    """The server's own account: access-log lines answered 5xx, and unhandled errors."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return [
        line
        for line in text.splitlines()
        if re.search(r'" 5\d\d \d', line) or "unhandled error" in line or "Traceback" in line
    ]


async def fuzz_server(
    root: Path,
    *,
    max_examples: int,
    roles: tuple[str, ...] = ROLES,
    seed: int | None = None,
    real_ids: bool = True,
    phases: str = ALL_PHASES,
) -> tuple[list[FuzzResult], list[str]]:
    """Fuzz a fresh server on ``root`` with each of ``roles``; the results and the server's
    5xx and unhandled-error log lines."""
    st = schemathesis_binary()
    if st is None:
        raise RuntimeError("schemathesis is not installed (PyPI schemathesis)")
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    log = root / "server.log"
    server: ServerProcess = await start_server_process(root / "data", log, **SERVER_SETTINGS)
    try:
        headers, parameters = await _credentials(server.url)
        config = _config(root / "schemathesis.toml", parameters) if real_ids else None
        results = []
        for role in roles:
            results.append(
                await _run_role(
                    st,
                    server.url,
                    role,
                    headers[role],
                    config,
                    max_examples,
                    seed,
                    phases,
                    root,
                )
            )
        assert server.proc.returncode is None, "the server died under fuzzing"
    finally:
        await server.kill()
    return results, server_errors(log)
