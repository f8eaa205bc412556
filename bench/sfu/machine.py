"""What machine the benchmark ran on."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def describe_machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
    }


def _git(*args: str) -> str:
    """A read-only git query in the checkout ("" if git is unavailable)."""
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout


def describe_code() -> dict[str, Any]:
    """The commit measured, and the server files that differed from it."""
    changed = _git("status", "--porcelain", "--", "hearing_server", "signaling")
    return {
        "commit": _git("rev-parse", "HEAD").strip(),
        "uncommitted_server_files": [line[3:] for line in changed.splitlines() if line],
    }
