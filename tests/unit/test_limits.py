"""The limiter and the client address: pure functions and a bounded dict."""

from __future__ import annotations

from hearing_server.auth.limits import RateLimiter, client_address, parse_networks


def test_a_refused_request_is_told_how_long_to_wait() -> None:
    limiter = RateLimiter(rate=0.5, burst=2)
    assert limiter.take("a", now=0.0) == 0.0 and limiter.take("a", now=0.0) == 0.0
    assert limiter.take("a", now=0.0) == 2.0  # one token comes back in 1/0.5 s
    assert limiter.take("a", now=1.0) == 1.0  # refusals spend nothing
    assert limiter.take("a", now=2.0) == 0.0


def test_idle_buckets_are_forgotten() -> None:
    limiter = RateLimiter(rate=1.0, burst=5)
    for i in range(100):
        limiter.take(f"10.0.0.{i}", now=0.0)
    assert len(limiter) == 100
    limiter.take("other", now=5.0)  # every earlier bucket is full again: the same as new
    assert len(limiter) == 1


def test_forwarded_for_counts_only_from_a_trusted_proxy() -> None:
    proxies = parse_networks(["10.0.0.0/24", "::1"])
    assert client_address("203.0.113.9", "1.2.3.4", proxies) == "203.0.113.9"
    assert client_address("10.0.0.5", "1.2.3.4", proxies) == "1.2.3.4"
    # A client's own entries come first; the right-most one a proxy did not add is the client.
    assert client_address("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.7", proxies) == "1.2.3.4"
    assert client_address("::1", None, proxies) == "::1"
    assert client_address("10.0.0.5", "not an address", proxies) == "10.0.0.5"
    assert client_address(None, "1.2.3.4", proxies) == "-"
