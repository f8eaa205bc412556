"""The probe: reads /proc from outside the server, so measuring costs the server nothing.

``python -m bench.overload.probe --server PID --clients PID,PID --out FILE``

At each whole wall-clock second it appends one JSON line to ``--out``:

* ``cpu``: CPU seconds (utime + stime) so far of the server, each of its descendants (the
  speech-to-text process), each client process, the orchestrator and the probe itself;
  ``machine`` and ``stat``: the machine's busy/total jiffies, and all of them by kind;
* ``threads``: every server thread, ``tid: [comm, on-CPU ns, runqueue-wait ns]`` from
  ``/proc/<pid>/task/<tid>/{comm,schedstat}`` (the bench's server wrapper names each OS
  thread after its Python thread); ``client_threads``: each client's on-CPU ns by thread
  name (live threads only);
* ``loop``: what the server's event-loop thread (the main thread) was doing, sampled
  ``--hz`` times a second: runnable (on a CPU or waiting for one), asleep in a futex (the
  GIL, in practice: the loop thread takes no other contended lock), asleep in epoll (idle:
  waiting for packets or timers), or elsewhere (named by ``wchan``);
* ``snmp``: the namespace's ``Udp:`` counters from /proc/net/snmp;
* ``sockets``: every UDP socket of /proc/net/udp as ``[inode, owner, local port,
  rx_queue bytes, drops]``; the owner is found through ``/proc/<pid>/fd`` (``server``,
  ``server-child``, ``client:<pid>`` or ``other``).

SIGTERM ends it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import signal
import sys
import time
from typing import Any

from bench.sfu.control import die_with_parent, emit
from bench.sfu.procstat import MachineCpu, descendants, process_cpu_seconds

_GIL_WAIT = ("futex",)  # wchan prefixes: futex_do_wait (6.x), futex_wait_queue (older)
_IDLE = ("ep_poll", "do_epoll_wait", "do_sys_poll", "do_select")


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:  # the thread or process ended meanwhile
        return None


def thread_times(pid: int) -> dict[str, list[Any]]:
    """``tid: [comm, on-CPU ns, runqueue-wait ns]`` for every live thread of ``pid``."""
    out: dict[str, list[Any]] = {}
    with contextlib.suppress(FileNotFoundError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            comm = _read(f"/proc/{pid}/task/{tid}/comm")
            sched = _read(f"/proc/{pid}/task/{tid}/schedstat")
            if comm is None or sched is None:
                continue
            run_ns, wait_ns, _ = sched.split()
            out[tid] = [comm.strip(), int(run_ns), int(wait_ns)]
    return out


def threads_by_name(pid: int) -> dict[str, int]:
    """On-CPU ns of ``pid``'s live threads, summed by name (the main thread: "main")."""
    out: dict[str, int] = {}
    for tid, (comm, run_ns, _) in thread_times(pid).items():
        name = "main" if tid == str(pid) else comm
        out[name] = out.get(name, 0) + run_ns
    return out


def loop_state(pid: int) -> str:
    """What the main thread of ``pid`` is doing right now."""
    stat = _read(f"/proc/{pid}/task/{pid}/stat")
    if stat is None:
        return "gone"
    state = stat[stat.rindex(")") + 2]
    if state == "R":
        return "runnable"
    wchan = (_read(f"/proc/{pid}/task/{pid}/wchan") or "").strip()
    if wchan == "0":  # woken between the two reads: on a CPU now
        return "runnable"
    if wchan.startswith(_GIL_WAIT):
        return "futex"
    if wchan.startswith(_IDLE):
        return "epoll"
    return wchan or state


def cpu_fields() -> dict[str, int]:
    """The machine's jiffies by kind (/proc/stat), so softirq (loopback delivery) and
    steal (the hypervisor) are told apart from other people's processes."""
    values = (_read("/proc/stat") or "").split("\n", 1)[0].split()[1:]
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return {name: int(v) for name, v in zip(names, values, strict=False)}


def udp_snmp() -> dict[str, int]:
    text = _read("/proc/net/snmp") or ""
    rows = [line.split() for line in text.splitlines() if line.startswith("Udp:")]
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0][1:], (int(v) for v in rows[1][1:]), strict=True))


def udp_sockets() -> list[tuple[int, int, int, int]]:
    """``(inode, local port, rx_queue bytes, drops)`` of every IPv4 UDP socket."""
    out = []
    for line in (_read("/proc/net/udp") or "").splitlines()[1:]:
        f = line.split()
        if len(f) < 13:
            continue
        port = int(f[1].split(":")[1], 16)
        rx_queue = int(f[4].split(":")[1], 16)
        out.append((int(f[9]), port, rx_queue, int(f[12])))
    return out


def socket_inodes(pid: int) -> set[int]:
    found = set()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    found.add(int(target[8:-1]))
    return found


def _cpu_or_none(pid: int) -> float | None:
    try:
        return round(process_cpu_seconds(pid), 3)
    except (FileNotFoundError, ProcessLookupError):
        return None


class Probe:
    def __init__(self, server: int, clients: list[int], orchestrator: int) -> None:
        self.server = server
        self.clients = clients
        self.orchestrator = orchestrator
        self.owners: dict[int, str] = {}  # socket inode -> owner, kept after it closes
        self.loop_states: dict[str, int] = {}

    def _owners(self, children: list[int]) -> None:
        for inode in socket_inodes(self.server):
            self.owners[inode] = "server"
        for child in children:
            for inode in socket_inodes(child):
                self.owners[inode] = "server-child"
        for pid in self.clients:
            for inode in socket_inodes(pid):
                self.owners[inode] = f"client:{pid}"

    def second(self, s: int) -> dict[str, Any]:
        children = descendants(self.server)
        cpu: dict[str, float | None] = {
            "server": _cpu_or_none(self.server),
            "orchestrator": _cpu_or_none(self.orchestrator),
            "probe": round(process_cpu_seconds(os.getpid()), 3),
        }
        cpu.update({f"server-child:{pid}": _cpu_or_none(pid) for pid in children})
        cpu.update({f"client:{pid}": _cpu_or_none(pid) for pid in self.clients})
        machine = MachineCpu.read()
        sockets = udp_sockets()
        if any(inode not in self.owners for inode, *_ in sockets):
            self._owners(children)
        line = {
            "s": s,
            "t": round(time.time(), 3),
            "cpu": cpu,
            "machine": [machine.busy, machine.total],
            "stat": cpu_fields(),
            "threads": thread_times(self.server),
            "client_threads": {str(pid): threads_by_name(pid) for pid in self.clients},
            "loop": self.loop_states,
            "snmp": udp_snmp(),
            "sockets": [
                [inode, self.owners.get(inode, "other"), port, rx, drops]
                for inode, port, rx, drops in sockets
            ],
        }
        self.loop_states = {}
        return line

    def tick(self) -> None:
        state = loop_state(self.server)
        self.loop_states[state] = self.loop_states.get(state, 0) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--server", type=int, required=True)
    parser.add_argument("--clients", default="", help="comma-separated pids")
    parser.add_argument("--out", required=True)
    parser.add_argument("--hz", type=float, default=50.0, help="event-loop thread samples/s")
    args = parser.parse_args()
    die_with_parent()
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    clients = [int(p) for p in args.clients.split(",") if p]
    probe = Probe(args.server, clients, os.getppid())
    period = 1.0 / args.hz
    with open(args.out, "a") as out:
        next_second = math.floor(time.time()) + 1
        emit("ready")
        while not stopping:
            probe.tick()
            now = time.time()
            if now >= next_second:
                out.write(json.dumps(probe.second(next_second)) + "\n")
                out.flush()
                next_second = math.floor(time.time()) + 1
            # jittered, or the samples could lock onto the phase of the server's own
            # 20 ms ticker and always find its loop in the same state
            pause = period * random.uniform(0.5, 1.5)
            time.sleep(max(0.0, min(pause, next_second - time.time())))
    sys.exit(0)


if __name__ == "__main__":
    main()
