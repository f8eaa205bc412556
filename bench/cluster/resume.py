"""How a client whose node died comes back (bench/cluster/failover.py), in two ways:

* ``web``: as web_client/static/session.js does. socket.io retries the node it was on, with
  its back-off (1 s, at most 1 s once the join named a failover entry, each ±50 % at random);
  once the node has been unreachable (from the moment its socket closed) for the join's
  ``failover.after_seconds`` (the lease and a margin) the page
  goes to the entry (``failover.entry_url``: a load balancer in a deployment; here the
  surviving node stands for it), which places the hearing or answers ``unavailable`` with
  ``retry_after`` (waited for, at least 0.5 s). The page reload of a move is not modelled.
* ``eager``: a client that goes to the entry at once, honours ``retry_after`` and retries
  after 0.2 s otherwise: what the servers alone allow.

Each attempt is traced as (seconds after the kill, URL asked, what happened).
"""

from __future__ import annotations

import asyncio
import math
import random
import time

from signaling.client import HearingClient, SignalingError

# session.js lowers socket.io's maximum delay to 1 s once the join named a failover entry
RECONNECTION_DELAY_S, RECONNECTION_DELAY_MAX_S, JITTER = 1.0, 1.0, 0.5
EAGER_RETRY_S = 0.2

Trace = list[tuple[float, str, str]]


def socketio_backoff(attempt: int, rng: random.Random) -> float:
    """socket.io-client's delay before reconnection ``attempt`` (0-based), as its Backoff:
    min * 2^attempt, moved by up to ±50 %, at most max."""
    ms = RECONNECTION_DELAY_S * 2**attempt
    r = rng.random()
    deviation = math.floor(r * JITTER * ms * 1000) / 1000
    ms = ms - deviation if math.floor(r * 10) & 1 == 0 else ms + deviation
    return float(min(ms, RECONNECTION_DELAY_MAX_S))


def _unavailable_wait(exc: SignalingError) -> float:
    return max(0.5, min(30.0, exc.retry_after if exc.retry_after is not None else 3.0))


async def _attempt(url: str, token: str, trace: Trace, killed: float) -> HearingClient:
    client = HearingClient(url, token)
    try:
        await client.connect()
    except SignalingError as exc:
        trace.append((round(time.monotonic() - killed, 3), url, exc.code))
        await client.close()
        raise
    trace.append((round(time.monotonic() - killed, 3), client.base_url, "connected"))
    return client


async def resume_web(
    token: str,
    node_url: str,
    entry_url: str,
    after_s: float,
    rng: random.Random,
    killed: float,
    trace: Trace,
) -> HearingClient:
    """Reconnect as the web client does (module docstring); returns the connected client."""
    attempt = 0
    unreachable_since: float | None = killed  # its socket closed when the node died
    url = node_url
    while True:
        if url == node_url:
            await asyncio.sleep(socketio_backoff(attempt, rng))
            attempt += 1
        try:
            client = await _attempt(url, token, trace, killed)
        except SignalingError as exc:
            if exc.code == "unavailable":
                await asyncio.sleep(_unavailable_wait(exc))
            elif exc.code != "connect_failed":
                await asyncio.sleep(3.0)  # session.js: other refusals are retried after 3 s
            elif url == node_url:
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since >= after_s:
                    url = entry_url
            else:
                await asyncio.sleep(RECONNECTION_DELAY_S)
            continue
        return client


async def resume_eager(token: str, entry_url: str, killed: float, trace: Trace) -> HearingClient:
    """Go to the entry at once and keep asking (module docstring)."""
    while True:
        try:
            client = await _attempt(entry_url, token, trace, killed)
        except SignalingError as exc:
            wait = exc.retry_after if exc.code == "unavailable" else None
            await asyncio.sleep(max(EAGER_RETRY_S, min(30.0, wait or 0.0)))
            continue
        return client
