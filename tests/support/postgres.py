"""The tests' PostgreSQL server: ``testbed.postgres``, shared with the benchmarks."""

from __future__ import annotations

from testbed.postgres import PostgresServer, PostgresUnavailable, find_bindir

__all__ = ["PostgresServer", "PostgresUnavailable", "find_bindir"]
