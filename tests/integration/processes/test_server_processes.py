"""Every process the server starts ends with it (issue 28).

Real servers, ``python -m hearing_server serve`` in processes of their own, on 127.0.0.1, each
test with its own data dir, transcription on (the default engine). The app starts the engine's
child process and loads its model before the server listens, so a server that answers
/healthz has its engine child (and multiprocessing's resource tracker) running.

The processes are read from /proc here, independently of ``lifeline``, which is under test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from hearing_server.serve import longest_shutdown
from signaling.client import HearingClient
from support.api import HEARING_BODY
from support.waiting import wait_until
from testbed.nodes import ADMIN_KEY, free_port, server_environ
from transcription.testing import SpeechTrack, have_flite, silence, synthesize
from transcription.wer import wer

REPO = Path(__file__).resolve().parents[3]
GRACE_S = 10.0
ORPHANS_GONE_S = 2.0  # the bound, from the server's death to its last descendant's
READY_S = 90.0
SENTENCE = "the witness saw the blue car stop at the corner of the main street"


@dataclass(frozen=True)
class Proc:
    pid: int
    start_time: int
    cmdline: str

    @property
    def is_engine(self) -> bool:
        return "multiprocessing.spawn" in self.cmdline

    @property
    def is_resource_tracker(self) -> bool:
        return "multiprocessing.resource_tracker" in self.cmdline


def _stat(pid: int) -> tuple[str, int, int] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1]), int(fields[19])


def _descendants(root: int) -> list[Proc]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None and st[0] != "Z":
            children.setdefault(st[1], []).append(int(entry))
    out, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        st = _stat(pid)
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if st is not None:
            out.append(Proc(pid, st[2], cmd))
    return out


def _alive(p: Proc) -> bool:
    """Still the same process (a reused pid has another start time), and not a zombie."""
    st = _stat(p.pid)
    return st is not None and st[0] != "Z" and st[2] == p.start_time


def _environment(data_dir: Path, port: int, grace: float) -> dict[str, str]:
    return server_environ(
        data_dir,
        port,
        identity_default_policy="standard",  # the loader's default, as before
        transcription_enabled="true",
        # The speech below is English (flite); one engine (tiny.en) serves an English court.
        transcription_language="en",
        shutdown_grace_seconds=str(grace),
    )


class Server:
    """One ``hearing-server serve`` process; its output goes to ``log``."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_S
        async with aiohttp.ClientSession() as http:
            while True:
                assert self.proc.returncode is None, f"server exited:\n{self.output()}"
                assert time.monotonic() < deadline, f"server not ready:\n{self.output()}"
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    def children(self) -> list[Proc]:
        return _descendants(self.pid)

    async def exit_status(self, timeout: float) -> int:
        return await asyncio.wait_for(self.proc.wait(), timeout)


StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Starts servers on the test's one data dir; SIGKILLs any still running at the end."""
    started: list[Server] = []

    async def start(*, ready: bool = True, grace: float = GRACE_S) -> Server:
        port = free_port()
        log = tmp_path / f"server-{len(started)}.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hearing_server", "serve",
                cwd=REPO, env=_environment(tmp_path / "var", port, grace), stdout=out, stderr=out,
            )  # fmt: skip
        server = Server(proc, port, log)
        started.append(server)
        if ready:
            await server.wait_ready()
        return server

    yield start
    for server in started:
        if server.proc.returncode is None:
            server.proc.kill()
            await server.proc.wait()


def _engine_and_tracker(server: Server) -> list[Proc]:
    children = server.children()
    assert [p for p in children if p.is_engine], children
    assert [p for p in children if p.is_resource_tracker], children
    return children


async def _orphans_after(children: list[Proc], limit: float) -> tuple[float, list[Proc]]:
    """Wait up to ``limit`` for every process of ``children`` to end: (seconds, survivors)."""
    t0 = time.monotonic()
    while True:
        alive = [p for p in children if _alive(p)]
        took = time.monotonic() - t0
        if not alive or took >= limit:
            return took, alive
        await asyncio.sleep(0.01)


@dataclass
class Speaking:
    """A judge who has begun to speak ``SENTENCE`` into a running hearing."""

    client: HearingClient
    token: str
    track: SpeechTrack
    said_by: float  # seconds into the track when the sentence has been spoken

    async def said(self) -> None:
        """Wait until the whole sentence has been sent to the server."""
        await wait_until(lambda: self.track.started is not None, 60, "the microphone to start")
        assert self.track.started is not None
        await asyncio.sleep(max(0.0, self.track.started + self.said_by - _loop_time()))


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


async def _judge_speaks(server: Server) -> Speaking:
    """A judge opens a hearing on ``server``, starts it and begins to speak ``SENTENCE``."""
    headers = {"X-API-Key": ADMIN_KEY}
    async with aiohttp.ClientSession(server.url, headers=headers) as http:

        async def post(path: str, body: dict[str, object] | None = None) -> dict[str, object]:
            async with http.post(path, json=body) as resp:
                assert resp.status in (200, 201), await resp.text()
                return dict(await resp.json())

        hearing = await post("/api/hearings", HEARING_BODY)
        judge = await post(f"/api/hearings/{hearing['id']}/participants",
                           {"role": "judge", "display_name": "王法官"})  # fmt: skip
        link = await post(f"/api/participants/{judge['id']}/links")
        await post(f"/api/hearings/{hearing['id']}/transitions", {"action": "open"})
    client = HearingClient(server.url, str(link["token"]))
    await client.connect()
    await client.join()
    await client.call("hearing_action", {"action": "start"})
    samples, rate = synthesize(SENTENCE, "slt")
    speech = np.concatenate([silence(1.0, rate), samples, silence(1.5, rate)])
    track = SpeechTrack(speech, rate)
    await client.publish([track])
    return Speaking(client, str(link["token"]), track, 1.0 + samples.size / rate)


async def _engine_hears_speech(server: Server) -> str:
    """A judge opens a hearing on ``server``, starts it and speaks; returns the final caption."""
    client = (await _judge_speaks(server)).client
    try:
        caption = await client.wait_for_event("caption", lambda d: d["final"], timeout=60)
    finally:
        await client.close()
    return str(caption["text"])


def _cpu_ticks(pid: int) -> int:
    """User and system CPU time of ``pid`` so far, in clock ticks (0 once it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return 0
    fields = raw[raw.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


async def _kill_while_recognising(
    server: Server, engine: Proc, speaking: Speaking, sig: signal.Signals
) -> None:
    """Once the sentence has been spoken, send ``sig`` to ``server`` at a moment its engine is
    busy recognising: its CPU time grew since the last look (it is idle but for recognition
    once its model is loaded). Fails if the engine does nothing within a minute."""
    await speaking.said()
    deadline = time.monotonic() + 60
    last = _cpu_ticks(engine.pid)
    while True:
        await asyncio.sleep(0.02)
        now = _cpu_ticks(engine.pid)
        if now > last:
            os.kill(server.pid, sig)
            return
        last = now
        assert time.monotonic() < deadline, "the engine never started recognising"


async def test_sigkill_leaves_no_child_and_the_next_server_starts_cleanly(
    start_server: StartServer, tmp_path: Path
) -> None:
    first = await start_server()
    children = _engine_and_tracker(first)
    os.kill(first.pid, signal.SIGKILL)
    assert await first.exit_status(10) == -signal.SIGKILL
    took, alive = await _orphans_after(children, ORPHANS_GONE_S)
    assert not alive, f"still running {ORPHANS_GONE_S} s after the server's SIGKILL: {alive}"
    print(f"\n{len(children)} children of the SIGKILLed server gone after {took * 1000:.0f} ms")

    second = await start_server()
    out = second.output()
    assert f"previous server on {tmp_path / 'var'} (pid {first.pid}) did not shut down" in out
    assert "left running by a previous server" not in out  # they were gone already
    (engine,) = [p for p in _engine_and_tracker(second) if p.is_engine]
    records = sorted(p.name for p in (tmp_path / "var" / "run").glob("child-*.json"))
    assert records == [f"child-{engine.pid}.json"]  # the dead engine's record was cleared
    if have_flite():
        heard = await _engine_hears_speech(second)
        assert wer(SENTENCE, heard).rate <= 0.35, heard
    os.kill(second.pid, signal.SIGTERM)
    assert await second.exit_status(GRACE_S + 10) == 0, second.output()


async def test_sigkill_while_recognising_speech_leaves_no_child(
    start_server: StartServer,
) -> None:
    """The engine busy in its model (C code) when the server dies: it goes all the same."""
    if not have_flite():
        pytest.skip("needs Debian flite")
    server = await start_server()
    children = _engine_and_tracker(server)
    (engine,) = [p for p in children if p.is_engine]
    speaking = await _judge_speaks(server)
    try:
        await _kill_while_recognising(server, engine, speaking, signal.SIGKILL)
        assert await server.exit_status(10) == -signal.SIGKILL
        _, alive = await _orphans_after(children, ORPHANS_GONE_S)
        assert not alive, f"still running {ORPHANS_GONE_S} s after the server's SIGKILL: {alive}"
    finally:
        async with asyncio.timeout(30):
            await speaking.client.close()


async def test_sigterm_while_recognising_finishes_the_speech_and_exits_0(
    start_server: StartServer,
) -> None:
    """What was said before the SIGTERM reaches the transcript before the server exits."""
    if not have_flite():
        pytest.skip("needs Debian flite")
    # A grace long enough for a busy machine: this test is about what the shutdown finishes.
    server = await start_server(grace=120.0)
    children = _engine_and_tracker(server)
    (engine,) = [p for p in children if p.is_engine]
    speaking = await _judge_speaks(server)
    try:
        await _kill_while_recognising(server, engine, speaking, signal.SIGTERM)
        assert await server.exit_status(120.0 + 10) == 0, server.output()
    finally:
        async with asyncio.timeout(30):
            await speaking.client.close()
    _, alive = await _orphans_after(children, ORPHANS_GONE_S)
    assert not alive, alive

    second = await start_server()
    assert "did not shut down cleanly" not in second.output()
    auth = {"Authorization": f"Bearer {speaking.token}"}
    async with (
        aiohttp.ClientSession(second.url, headers=auth) as http,
        http.get("/api/me/transcript/json") as resp,
    ):
        assert resp.status == 200, await resp.text()
        doc = await resp.json()
    said = " ".join(s["text"] for s in doc["segments"] if s.get("status", "ok") == "ok")
    assert wer(SENTENCE, said).rate <= 0.35, doc["segments"]
    os.kill(second.pid, signal.SIGTERM)
    assert await second.exit_status(GRACE_S + 10) == 0, second.output()


async def test_sigterm_stops_every_child_and_exits_0(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = await start_server()
    children = _engine_and_tracker(server)
    os.kill(server.pid, signal.SIGTERM)
    assert await server.exit_status(GRACE_S + 10) == 0, server.output()
    _, alive = await _orphans_after(children, ORPHANS_GONE_S)
    assert not alive, alive
    assert "still running at exit" not in server.output()
    # A clean shutdown leaves only the lock file, which is never removed.
    assert sorted(p.name for p in (tmp_path / "var" / "run").iterdir()) == ["server.lock"]


async def test_a_child_that_hangs_is_stopped_after_the_grace_and_the_exit_is_not_0(
    start_server: StartServer,
) -> None:
    grace = 2.0
    server = await start_server(grace=grace)
    children = _engine_and_tracker(server)
    (engine,) = [p for p in children if p.is_engine]
    os.kill(engine.pid, signal.SIGSTOP)  # the engine's shutdown now waits for it forever
    t0 = time.monotonic()
    os.kill(server.pid, signal.SIGTERM)
    status = await server.exit_status(grace + 15)
    took = time.monotonic() - t0
    assert status == 1, server.output()
    # The grace, SIGTERM then SIGKILL 2 s later, the rest of the cleanup: the orderly path, not
    # the deadline that would have cut everything off (it says so). How long each step takes
    # is the machine's; the deadline bounds the whole.
    assert "exiting now" not in server.output(), server.output()
    assert grace <= took <= longest_shutdown(grace) + 2, (took, server.output())
    assert f"child process {engine.pid} still running at exit, killed" in server.output()
    _, alive = await _orphans_after(children, ORPHANS_GONE_S)
    assert not alive, alive


async def test_a_second_server_on_the_same_data_dir_is_refused(start_server: StartServer) -> None:
    first = await start_server()
    before = first.children()
    second = await start_server(ready=False)
    assert await second.exit_status(60) == 1
    assert (
        f"error: {second.log.parent / 'var'} is in use by another server (pid {first.pid})"
        in second.output()
    ), second.output()
    # The first server carries on undisturbed, engine and all.
    await first.wait_ready()
    assert first.children() == before
    os.kill(first.pid, signal.SIGTERM)
    assert await first.exit_status(GRACE_S + 10) == 0, first.output()
