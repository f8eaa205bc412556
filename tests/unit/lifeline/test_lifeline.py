"""lifeline with real processes: guarded children die with their parent by each guard alone,
the run directory admits one server, and leftovers are stopped only when verifiably theirs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lifeline
from lifeline.rundir import SERVER_RECORD

REPO = Path(__file__).resolve().parents[3]
GONE_S = 2.0

# A guarded child: prints "guarded" once its guards are up (and whether the kernel's is one of
# them), then waits to be ended.
CHILD = """
import os, sys, time
import lifeline
if sys.argv[2] == "no-pidfd":
    del os.pidfd_open  # as on a system without pidfds: the watcher polls getppid()
line = lifeline.guard(lifeline.Parent(int(sys.argv[1]), sys.argv[2] == "pdeathsig"), "test child")
print("guarded", line.parent_death_signal, flush=True)
time.sleep(600)
"""

# A parent that starts a guarded child, says its pid, and waits to be killed.
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid()), sys.argv[2]])
print(child.pid, flush=True)
time.sleep(600)
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != lifeline.RUN_DIR_ENV}
    return {**env, "PYTHONPATH": str(REPO), **extra}


def _gone_within(pid: int, seconds: float) -> float | None:
    """Seconds until ``pid`` is no longer a living process, or None if it outlives them."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if lifeline.identify(pid) is None:
            return time.monotonic() - t0
        time.sleep(0.005)
    return None


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        p.kill()
        p.wait()


@pytest.mark.parametrize("guard", ["pdeathsig", "pidfd", "no-pidfd"])
def test_a_guarded_child_dies_with_its_sigkilled_parent(
    guard: str, procs: list[subprocess.Popen[str]]
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, guard],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    procs.append(parent)
    assert parent.stdout is not None and parent.stderr is not None
    child = int(parent.stdout.readline())
    # The child shares the parent's stdout.
    assert parent.stdout.readline().split() == ["guarded", str(guard == "pdeathsig")]
    parent.kill()
    parent.wait()
    took = _gone_within(child, GONE_S)
    assert took is not None, f"child {child} outlived its parent by {GONE_S} s ({guard})"
    if guard != "pdeathsig":  # the watcher thread, not the kernel, ended it: it says so
        assert f"parent {parent.pid} is gone, exiting" in parent.stderr.read()


def test_a_child_whose_parent_is_already_gone_exits_at_once() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that is no longer our child's parent (nor, here, anyone's)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(gone.pid), "pidfd"],
        capture_output=True, text=True, env=_env(), timeout=30,
    )  # fmt: skip
    assert child.returncode == 1 and "guarded" not in child.stdout
    assert f"parent {gone.pid} is gone" in child.stderr


def test_one_server_per_run_dir_and_a_crash_is_noticed(tmp_path: Path) -> None:
    run = tmp_path / "var" / "run"
    first = lifeline.RunDir.acquire(run)
    assert first.previous_server is None
    in_use = f"in use by another server \\(pid {os.getpid()}\\)"
    with pytest.raises(lifeline.DataDirInUse, match=in_use):
        lifeline.RunDir.acquire(run)
    first.close()
    with lifeline.RunDir.acquire(run) as again:
        assert again.previous_server is None  # the first closed cleanly
    # A server that dies holding the lock: the kernel frees the lock, its record stays.
    crashed = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, lifeline; from pathlib import Path; "
         "lifeline.RunDir.acquire(Path(sys.argv[1])); print('locked', flush=True); "
         "time.sleep(600)", str(run)],
        stdout=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    assert crashed.stdout is not None and crashed.stdout.readline().strip() == "locked"
    with pytest.raises(lifeline.DataDirInUse, match=f"pid {crashed.pid}"):
        lifeline.RunDir.acquire(run)
    crashed.kill()
    crashed.wait()
    with lifeline.RunDir.acquire(run) as after_crash:
        assert after_crash.previous_server is not None
        assert after_crash.previous_server["pid"] == crashed.pid
    assert not (run / SERVER_RECORD).exists()


def _guarded_child(run: Path, procs: list[subprocess.Popen[str]]) -> tuple[int, Path]:
    """A guarded child of this process that records itself in ``run``; outlives no server,
    as its parent (the test) stays alive: it stands for a child whose guards failed."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(os.getpid()), "pidfd"],
        stdout=subprocess.PIPE, text=True, env=_env(**{lifeline.RUN_DIR_ENV: str(run)}),
    )  # fmt: skip
    procs.append(child)
    assert child.stdout is not None and child.stdout.readline().startswith("guarded")
    record = run / f"child-{child.pid}.json"
    assert json.loads(record.read_text())["name"] == "test child"
    return child.pid, record


def test_a_leftover_child_is_stopped_only_if_it_is_verifiably_the_recorded_one(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    ours, ours_record = _guarded_child(run, procs)
    reused, reused_record = _guarded_child(run, procs)
    # The second record now describes another process than the one holding it (as if its pid
    # had been reused): same file, so its lock is still held.
    data = json.loads(reused_record.read_text())
    data["start_time"] += 1
    with reused_record.open("r+") as f:
        f.write(json.dumps(data))
        f.truncate()
    _, exited_record = _guarded_child(run, procs)
    procs[-1].kill()
    procs[-1].wait()

    with lifeline.RunDir.acquire(run) as server:
        outcomes = {str(lo.child.process.pid): lo.outcome for lo in server.sweep(timeout=2.0)}
        assert outcomes == {
            str(ours): lifeline.Outcome.TERMINATED,
            str(reused): lifeline.Outcome.NOT_OURS,
        }
        assert _gone_within(ours, 0.1) is not None and not ours_record.exists()
        assert lifeline.identify(reused) is not None and reused_record.exists()
        assert not exited_record.exists()  # nobody held it: its child had exited
        assert [c.process.pid for c in server.children()] == [reused]


def test_stop_kills_what_ignores_sigterm_and_skips_what_has_gone(
    procs: list[subprocess.Popen[str]],
) -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
         "signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    procs.append(stubborn)
    assert stubborn.stdout is not None and stubborn.stdout.readline().strip() == "ready"
    quitter = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    procs.append(quitter)
    stubborn_id, quitter_id = lifeline.identify(stubborn.pid), lifeline.identify(quitter.pid)
    assert stubborn_id is not None and quitter_id is not None
    quitter.kill()
    quitter.wait()
    outcomes = lifeline.stop([stubborn_id, quitter_id], timeout=0.3)
    assert outcomes == {stubborn.pid: lifeline.Outcome.KILLED, quitter.pid: lifeline.Outcome.GONE}
    assert stubborn.wait(5) == -signal.SIGKILL


def test_descendants_are_found(
    procs: list[subprocess.Popen[str]],
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, "pidfd"], stdout=subprocess.PIPE, text=True,
        env=_env(),
    )  # fmt: skip
    procs.append(parent)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert parent.stdout.readline().startswith("guarded")
    found = {p.pid: p for p in lifeline.descendants(os.getpid())}
    assert parent.pid in found and child in found
    assert found[child].cmdline[:2] == (sys.executable, "-c")
    assert not lifeline.is_resource_tracker(found[child])
