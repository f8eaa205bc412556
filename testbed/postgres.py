"""A throwaway PostgreSQL server for the tests and benchmarks, from the Debian ``postgresql``
package.

One server per test session (``initdb`` into a temp dir, then ``postgres`` itself), listening
on 127.0.0.1 only, on a free port, in the tests' own network namespace; one fresh database per
test. Nothing outside the temp dir is touched: no cluster of the package's own, no
``/var/run/postgresql``.

Who runs it: ``initdb`` and ``postgres`` refuse to run as root, and the tests run as root.
So as root both are run as the ``postgres`` system user the package creates (``nobody`` if
there is none) through ``setpriv --reuid --regid --clear-groups``, with the temp dir handed to
that user; as anyone else, as themselves. ``setpriv --pdeathsig KILL`` also ties the server to
the test session: if pytest dies without stopping it, the kernel kills the postmaster, and its
backends exit when they see it gone. That is why the server is run in the foreground as a
child of pytest rather than daemonised by ``pg_ctl``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

POSTGRES_USER = "hearing"  # the superuser initdb creates; trust authentication, loopback only
START_TIMEOUT_S = 30.0


class PostgresUnavailable(Exception):
    """The binaries are there but no server could be started (the message says why)."""


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb, postgres and psql."""
    found: list[tuple[int, Path]] = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        if all((bindir / tool).is_file() for tool in ("initdb", "postgres", "psql")):
            with contextlib.suppress(ValueError):
                found.append((int(bindir.parent.name), bindir))
    return max(found)[1] if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A running server; :meth:`start` it, :meth:`stop` it at the end of the session."""

    def __init__(self, bindir: Path, root: Path, prefix: list[str]) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.port = 0
        self._prefix = prefix  # setpriv ... --: who the server runs as, dying with us
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    # -- start and stop ---------------------------------------------------------------------

    @classmethod
    def start(cls, bindir: Path) -> PostgresServer:
        root = Path(tempfile.mkdtemp(prefix="hearing-pg-"))
        prefix = ["setpriv", "--pdeathsig", "KILL"]
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                account = pwd.getpwnam("nobody")
            os.chown(root, account.pw_uid, account.pw_gid)
            prefix += [
                f"--reuid={account.pw_uid}",
                f"--regid={account.pw_gid}",
                "--clear-groups",
            ]
        prefix.append("--")
        server = cls(bindir, root, prefix)
        try:
            server._initdb()
            server._run()
        except BaseException:
            server.stop()
            raise
        return server

    def _initdb(self) -> None:
        done = subprocess.run(
            [
                *self._prefix,
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                POSTGRES_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",  # a throwaway cluster: durability is not the point
            ],
            capture_output=True,
            cwd=self.root,
            timeout=120,
        )
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {done.stderr.decode(errors='replace')}")

    def _run(self) -> None:
        """Start the server on a free port; another port if that one was taken meanwhile."""
        problem = ""
        for _ in range(3):
            self.port = _free_port()
            log = (self.root / "server.log").open("ab")
            self._process = subprocess.Popen(
                [
                    *self._prefix,
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"port={self.port}",
                    "-c",
                    f"unix_socket_directories={self.root}",
                    # Speed over durability: the cluster is gone after the session.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
            log.close()
            problem = self._wait_ready()
            if not problem:
                return
            self._kill()
        raise PostgresUnavailable(f"the test PostgreSQL server did not start: {problem}")

    def _wait_ready(self) -> str:
        """Empty once the server answers a query, else why it never did."""
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return (self.root / "server.log").read_text(errors="replace")[-2000:]
            with contextlib.suppress(subprocess.SubprocessError):
                if self.psql("postgres", "SELECT 1", check=False).returncode == 0:
                    return ""
            time.sleep(0.1)
        return f"no answer within {START_TIMEOUT_S:g} s"

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGQUIT)  # immediate shutdown: nothing here must survive
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop the server and remove its files."""
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases --------------------------------------------------------------------------

    def url(self, database: str) -> str:
        """The URL of one database on this server."""
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def psql(
        self, database: str, sql: str, *, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``sql`` with psql as the superuser, over TCP (the socket dir is the server
        user's); rows are printed unaligned, ``a|b`` per line."""
        done = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-A",  # unaligned, tuples only: rows come back as a|b lines
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                POSTGRES_USER,
                "-d",
                database,
                "-c",
                sql,
            ],
            capture_output=True,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise PostgresUnavailable(f"psql failed: {done.stderr.decode(errors='replace')}")
        return done

    def create_database(self) -> str:
        """A new, empty database; returns its name."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self.psql("postgres", f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, cutting off whatever a test left connected to it."""
        self.psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
