"""Throwaway local services for the tests and the benchmarks alike: a Redis server, a
PostgreSQL server and real ``hearing-server serve`` processes, all on 127.0.0.1 (or a Unix
socket) and gone when they stop. Test-only: not part of the installed server."""
