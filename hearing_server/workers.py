"""Several worker processes on one machine: how many, and each one's settings.

Each worker is a node of the cluster mechanism (package ``cluster``, docs/operations.md
"Several nodes") on this host: its own port (the configured one + its index, so worker 0
keeps the port join links point at), node id and node URL, and its own slice of the media
port range; the database, the data dir's keys, the recordings and the Redis are shared.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import lifeline
from hearing_server.config import ConfigError, Settings
from hearing_server.serve import longest_shutdown
from hearing_server.supervisor import Supervisor

log = logging.getLogger(__name__)

PLACEHOLDERS = ("{port}", "{worker}")
STOP_MARGIN_S = 2.0
"""Past a worker's own longest shutdown, before its supervisor kills it."""


def cpu_cores() -> int:
    """The cores this process may run on (its affinity, as a container or taskset sees it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def worker_count(settings: Settings) -> int:
    """``workers``, with 0 meaning one per CPU core."""
    return settings.workers or cpu_cores()


def check_workers(settings: Settings, count: int) -> None:
    """Raise :class:`ConfigError` (one line saying what to set) if ``count`` workers cannot
    run with ``settings``."""
    if count <= 1:
        return
    if not settings.redis_url:
        raise ConfigError(
            f"{count} workers need redis_url: each worker is a node, and the nodes agree in "
            "Redis on which of them serves each hearing (docs/operations.md)"
        )
    if settings.port + count - 1 > 65535:
        raise ConfigError(f"{count} workers need the ports {settings.port} to {settings.port}"
                          f"+{count - 1}, past 65535")  # fmt: skip
    if settings.node_url and not any(p in settings.node_url for p in PLACEHOLDERS):
        raise ConfigError(
            "with several workers, node_url names each worker's own address: put {port} "
            "(or {worker}) in it, e.g. https://hearing-1.court.example:{port}"
        )
    if not settings.node_url and settings.public_url:
        raise ConfigError(
            "with several workers and public_url set, set node_url too, with {port} (or "
            "{worker}) in it: the address at which clients reach each worker itself"
        )
    if settings.media_port_range is not None:
        low, high = settings.media_port_range
        if (high - low + 1) // count < 1:
            raise ConfigError(
                f"the media port range {low}-{high} cannot be split between {count} workers"
            )


def worker_settings(settings: Settings, index: int, count: int) -> Settings:
    """The settings of worker ``index`` (0-based) of ``count``; ``check_workers`` passed."""
    port = settings.port + index
    if settings.node_url:
        node_url = settings.node_url.replace("{port}", str(port)).replace("{worker}", str(index))
    else:
        node_url = _with_port(settings.effective_public_url, port)
    media_min, media_max = settings.media_port_min, settings.media_port_max
    if settings.media_port_range is not None:
        share = (media_max - media_min + 1) // count
        media_min, media_max = media_min + index * share, media_min + (index + 1) * share - 1
    return replace(
        settings,
        port=port,
        # links keep pointing at the address the operator configured (worker 0, or the load
        # balancer), whichever worker issues them
        public_url=settings.effective_public_url,
        node_id=f"{settings.effective_node_id}-w{index}",
        node_url=node_url,
        workers=1,
        # every link arrives at worker 0: staying there while calm would leave the other
        # cores idle
        hearing_placement="spread" if count > 1 else settings.hearing_placement,
        media_port_min=media_min,
        media_port_max=media_max,
    )


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return urlunsplit((parts.scheme, f"{host}:{port}", parts.path, "", ""))


def serve_workers(
    settings: Settings, run: lifeline.RunDir, count: int, worker_flags: list[str]
) -> int:
    """Run ``count`` workers under a :class:`Supervisor` until SIGTERM or SIGINT; returns the
    exit status. ``worker_flags``: the command-line settings each worker loads again (its
    settings are then derived by :func:`worker_settings`)."""
    supervisor_pid = os.getpid()

    def command(index: int, ready_fd: int) -> list[str]:
        return [
            sys.executable, "-m", "hearing_server", *worker_flags,
            "--index", str(index), "--count", str(count),
            "--supervisor", str(supervisor_pid), "--ready-fd", str(ready_fd),
        ]  # fmt: skip

    def where(index: int) -> str:
        return worker_settings(settings, index, count).effective_node_url

    # the workers record themselves in the data dir's run dir, so that the next start stops
    # any that outlived a crashed supervisor; each keeps its own below it
    env = {**os.environ, **run.environ()}
    stop_timeout = longest_shutdown(settings.shutdown_grace_seconds) + STOP_MARGIN_S
    supervisor = Supervisor(count, command, env=env, stop_timeout=stop_timeout, where=where)
    log.info("starting %d workers on ports %d-%d", count, settings.port, settings.port + count - 1)
    return asyncio.run(supervisor.run())


def worker_run_dir(settings: Settings, index: int) -> Path:
    """Worker ``index``'s own run dir (its lock and its children's records)."""
    return settings.run_dir / f"w{index}"
