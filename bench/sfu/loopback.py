"""Clients gather ICE host candidates on 127.0.0.1 only (aioice skips loopback)."""

from __future__ import annotations

import aioice.ice


def use_loopback_only() -> None:
    def loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    aioice.ice.get_host_addresses = loopback
