"""Abuse limits: token buckets keyed by client address or by the secret presented, and who
the client is.

One limiter type serves every limit (the livestream's public URLs, the login-like routes,
refused signaling connects). Who the client is: the socket peer, or the address a trusted
reverse proxy puts in ``X-Forwarded-For`` when the peer is listed in ``trusted_proxies``; an
address that is not trusted cannot choose its own key by sending that header. The HTTP
answer (429 with Retry-After) is the api layer's (``hearing_server/api/limits.py``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second, bursts of ``burst``.

    Memory is bounded twice: a bucket idle long enough to have refilled is the same as a new
    one and is dropped as time passes, and at most ``max_clients`` keys are remembered (the
    least recently seen go first), so a flood of addresses cannot grow it without bound.
    """

    def __init__(self, rate: float, burst: float, max_clients: int = 50_000) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._max = max_clients
        self._refill_s = self.burst / rate
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one token of ``key``: 0.0 when allowed, else the seconds until one is back."""
        now = time.monotonic() if now is None else now
        self._evict_idle(now)
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return wait

    def peek(self, key: str, now: float | None = None) -> float:
        """The seconds until ``key`` has a token (0.0: it has one now), spending nothing."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def allow(self, key: str, now: float | None = None) -> bool:
        """Spend one token of ``key``; whether there was one."""
        return self.take(key, now) == 0.0

    def __len__(self) -> int:
        return len(self._buckets)

    def _evict_idle(self, now: float) -> None:
        # The dict is in last-seen order, so the idle ones are at its front.
        while self._buckets:
            key, (_, last) = next(iter(self._buckets.items()))
            if now - last < self._refill_s:
                break
            del self._buckets[key]


def parse_networks(items: Iterable[str]) -> tuple[IpNetwork, ...]:
    """``trusted_proxies`` entries (addresses or CIDR networks); ValueError names a bad one."""
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IP address or network") from exc
    return tuple(out)


def _trusted(address: str, proxies: tuple[IpNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(
    peer: str | None, forwarded_for: str | None, proxies: tuple[IpNetwork, ...]
) -> str:
    """The client's address: ``peer``, or when ``peer`` is a trusted proxy, the right-most
    ``X-Forwarded-For`` entry that is not itself a trusted proxy (entries left of it were
    written by the client and prove nothing)."""
    address = peer or "-"
    if not forwarded_for or not _trusted(address, proxies):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # garbage from a proxy: fall back to the peer
        address = hop
    return address


def request_address(request: web.Request, proxies: tuple[IpNetwork, ...]) -> str:
    """``client_address`` of an aiohttp request."""
    return client_address(request.remote, request.headers.get("X-Forwarded-For"), proxies)


def environ_address(environ: Mapping[str, object], proxies: tuple[IpNetwork, ...]) -> str:
    """``client_address`` of a socket.io connection's environ (aiohttp mode)."""
    request = environ.get("aiohttp.request")
    if isinstance(request, web.BaseRequest):
        return client_address(request.remote, request.headers.get("X-Forwarded-For"), proxies)
    peer = environ.get("REMOTE_ADDR")
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    return client_address(
        peer if isinstance(peer, str) else None,
        forwarded if isinstance(forwarded, str) else None,
        proxies,
    )


def _secret_of(request: web.Request) -> str | None:
    """What the caller presents as proof: a bearer token, the API key, or a secret in the
    path. Hashed, so the limiter never holds a usable secret."""
    presented = (
        request.headers.get("Authorization")
        or request.headers.get("X-API-Key")
        or request.match_info.get("token")
        or request.match_info.get("ticket")
    )
    if not presented:
        return None
    return hashlib.sha256(presented.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """The caps on login-like routes (those that check a secret or issue one)."""

    by_address: RateLimiter
    by_secret: RateLimiter
    proxies: tuple[IpNetwork, ...]

    @classmethod
    def per_minute(
        cls, per_address: float, per_secret: float, proxies: tuple[IpNetwork, ...]
    ) -> LoginLimits:
        """Buckets that hold a minute's worth and refill over a minute."""
        return cls(
            RateLimiter(per_address / 60.0, burst=per_address),
            RateLimiter(per_secret / 60.0, burst=per_secret),
            proxies,
        )

    def wait(self, request: web.Request) -> float:
        """Spend this request's tokens; the seconds to wait when either bucket is empty
        (0: go ahead).

        The address bucket is spent first: a client guessing secrets is stopped by it however
        many secrets it tries; the secret's bucket stops many addresses trying one secret.
        """
        wait = self.by_address.take(request_address(request, self.proxies))
        if wait:
            return float(wait)
        secret = _secret_of(request)
        if secret is not None:
            wait = self.by_secret.take(secret)
            if wait:
                return float(wait)
        return 0.0
