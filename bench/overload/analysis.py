"""Turn what one run observed (``session.OverloadRun.run()``) into its record.

Every process samples cumulative counters at whole wall-clock seconds; the difference
between the samples at ``s`` and ``s + 1`` is what happened in second ``s`` (a sample that
came late after a stall covers several seconds, spread evenly over them). Seconds are
numbered from the window's start: negative while the participants join.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from bench.sfu.numbers import percentile, rounded

from .sources import EXPECTED_FPS

KINDS = ("audio", "video")
LAST_S = 20  # "the last 20 s" of the window, the reproduction's criterion
SNMP_KEYS = ("InDatagrams", "RcvbufErrors", "InErrors", "OutDatagrams", "SndbufErrors")
LOOP_TID_NAME = "event loop"  # the server's main thread
BAD_STATES = ("failed", "closed", "disconnected")

Series = dict[int, float]  # absolute wall second -> amount in that second


def spread(samples: list[tuple[int, float]], *, new_from_zero: bool = False) -> Series:
    """Per-second amounts from cumulative ``(second, value)`` samples.

    ``new_from_zero``: a series that appears after the first sample started at zero (a
    thread or socket created meanwhile), so its first value is all new."""
    out: Series = defaultdict(float)
    prev: tuple[int, float] | None = None
    for s, value in sorted(samples):
        if prev is None:
            prev = (s, value)
            if new_from_zero:
                out[s - 1] += value
            continue
        gap = s - prev[0]
        if gap > 0:
            for second in range(prev[0], s):
                out[second] += (value - prev[1]) / gap
            prev = (s, value)
    return out


def _add(into: Series, more: Series) -> None:
    for s, v in more.items():
        into[s] = into.get(s, 0.0) + v


def _sum(series: Series, seconds: Iterable[int]) -> float:
    return sum(series.get(s, 0.0) for s in seconds)


class Analysis:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.w0: int = int(raw["timeline"]["window_start"])
        self.seconds = int(raw["config"]["seconds"])
        self.window = range(self.w0, self.w0 + self.seconds)
        self.people: list[dict[str, Any]] = raw["people"]
        self.names = {p["id"]: p["name"] for p in self.people}
        self.server_pid = str(raw["server_pid"])
        self.probe: list[dict[str, Any]] = sorted(raw["probe_samples"], key=lambda x: x["s"])
        self.server: list[dict[str, Any]] = sorted(raw["server_samples"], key=lambda x: x["s"])
        self.clients: dict[str, list[dict[str, Any]]] = {
            name: sorted((x for x in lines if "s" in x), key=lambda x: x["s"])
            for name, lines in raw["client_samples"].items()
        }
        self.finals = [
            x for lines in raw["client_samples"].values() for x in lines if x.get("final")
        ]
        joined = raw["timeline"].get("judge_joined", self.w0)
        self.first = min(int(joined), self.w0)
        self.span = range(self.first, self.w0 + self.seconds)

    # -- media ---------------------------------------------------------------------------

    def frames(self) -> dict[tuple[str, str, str], Series]:
        """Frames received per (subscriber, publisher, kind) per second; every expected
        pair is there, silent ones as empty series."""
        out: dict[tuple[str, str, str], Series] = {}
        for sub in self.people:
            for pub in self.people:
                if pub is not sub:
                    for kind in KINDS:
                        out[(sub["name"], pub["name"], kind)] = {}
        for lines in self.clients.values():
            points: dict[tuple[str, str, str], list[tuple[int, float]]] = defaultdict(list)
            for line in lines:
                for sub, seen in line["participants"].items():
                    for key, (frames, _, _) in seen["received"].items():
                        pub_id, kind = key.split(" ")
                        points[(sub, self.names.get(pub_id, pub_id), kind)].append(
                            (line["s"], frames)
                        )
            for key, samples in points.items():
                # a pair seen late got its first frames after the first sample
                out[key] = spread(samples, new_from_zero=True)
        return out

    def sent(self) -> dict[tuple[str, str], Series]:
        out: dict[tuple[str, str], Series] = {}
        for lines in self.clients.values():
            points: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
            for line in lines:
                for name, seen in line["participants"].items():
                    for kind in KINDS:
                        points[(name, kind)].append((line["s"], seen["sent"][kind]))
            for key, samples in points.items():
                out[key] = spread(samples, new_from_zero=True)
        return out

    def media_counters(self) -> dict[str, Series]:
        keys = self.server[-1]["media"].keys() if self.server else []
        return {
            k: spread([(x["s"], x["media"].get(k, 0)) for x in self.server])
            for k in keys
            if k in ("forwarded_packets", "forwarded_frames", "dropped_frames",
                     "tap_decoded_frames", "tap_dropped_frames")
        }  # fmt: skip

    # -- CPU -----------------------------------------------------------------------------

    def cpu(self) -> dict[str, Series]:
        """CPU-s per second of each of our processes (``server-child:*`` and ``client:*``
        keep their pids), and of the machine's tasks, softirq and steal (in CPUs)."""
        points: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for line in self.probe:
            for name, value in line["cpu"].items():
                if value is not None:
                    points[name].append((line["s"], value))
        out = {
            name: spread(samples, new_from_zero=name.startswith("server-child"))
            for name, samples in points.items()
        }
        ncpu = os.cpu_count() or 1
        stat = [x for x in self.probe if x.get("stat")]
        total = spread([(x["s"], sum(x["stat"].values())) for x in stat])

        def share(*kinds: str) -> Series:
            jiffies = spread([(x["s"], sum(x["stat"].get(k, 0) for k in kinds)) for x in stat])
            return {s: jiffies[s] / total[s] * ncpu for s in jiffies if total.get(s)}

        # without IRQ time accounting (this kernel) softirq ticks are also in the
        # interrupted task's stime: tasks = user + nice + system + irq + softirq
        out["machine_tasks"] = share("user", "nice", "system", "irq", "softirq")
        out["softirq"] = share("softirq")
        out["steal"] = share("steal")
        return out

    def threads(self) -> tuple[dict[str, Series], Series, dict[str, int]]:
        """On-CPU seconds per second by thread name (threads of one name summed), the
        event-loop thread's runqueue wait, and how many threads had each name."""
        run: dict[str, list[tuple[int, float]]] = defaultdict(list)
        wait: list[tuple[int, float]] = []
        names: dict[str, str] = {}
        for line in self.probe:
            for tid, (comm, run_ns, wait_ns) in line["threads"].items():
                name = LOOP_TID_NAME if tid == self.server_pid else comm
                names[tid] = name
                run[tid].append((line["s"], run_ns / 1e9))
                if tid == self.server_pid:
                    wait.append((line["s"], wait_ns / 1e9))
        first = self.probe[0]["s"] if self.probe else 0
        by_name: dict[str, Series] = defaultdict(dict)
        counts: dict[str, int] = defaultdict(int)
        for tid, samples in run.items():
            _add(by_name[names[tid]], spread(samples, new_from_zero=samples[0][0] > first))
            counts[names[tid]] += 1
        return dict(by_name), spread(wait), dict(counts)

    def client_threads(self) -> dict[str, Series]:
        """Every client process's on-CPU seconds per second by thread category, summed."""
        points: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        for line in self.probe:
            for pid, by_name in line.get("client_threads", {}).items():
                for name, run_ns in by_name.items():
                    points[(pid, name)].append((line["s"], run_ns / 1e9))
        first = self.probe[0]["s"] if self.probe else 0
        out: dict[str, Series] = defaultdict(dict)
        for (_, name), samples in points.items():
            _add(out[category(name)], spread(samples, new_from_zero=samples[0][0] > first))
        return dict(out)

    def loop_states(self) -> dict[int, dict[str, int]]:
        return {x["s"] - 1: x["loop"] for x in self.probe}

    # -- UDP -----------------------------------------------------------------------------

    def sockets(self) -> tuple[dict[str, Series], dict[str, Series], list[dict[str, Any]]]:
        """Drops per second and the fullest receive queue per second, by owner class
        (server, server-child, clients, other); and every socket's own figures."""
        drops: dict[int, list[tuple[int, float]]] = defaultdict(list)
        rx: dict[int, list[tuple[int, int]]] = defaultdict(list)
        owner: dict[int, str] = {}
        port: dict[int, int] = {}
        for line in self.probe:
            for inode, who, local_port, rx_queue, dropped in line["sockets"]:
                drops[inode].append((line["s"], dropped))
                rx[inode].append((line["s"] - 1, rx_queue))
                if who != "other" or inode not in owner:
                    owner[inode] = who
                port[inode] = local_port
        first = self.probe[0]["s"] if self.probe else 0
        by_class: dict[str, Series] = defaultdict(dict)
        rx_max: dict[str, Series] = defaultdict(dict)
        rows: list[dict[str, Any]] = []
        for inode, samples in drops.items():
            cls = _owner_class(owner[inode])
            per_s = spread(samples, new_from_zero=samples[0][0] > first)
            _add(by_class[cls], per_s)
            for s, q in rx[inode]:
                rx_max[cls][s] = max(rx_max[cls].get(s, 0.0), float(q))
            rows.append(
                {
                    "inode": inode,
                    "owner": owner[inode],
                    "port": port[inode],
                    "drops_in_window": round(_sum(per_s, self.window)),
                    "drops_total": max(d for _, d in samples),
                    "rx_queue_max_bytes": max(q for _, q in rx[inode]),
                    "seen_s": [samples[0][0] - self.w0, samples[-1][0] - self.w0],
                }
            )
        labels = self.socket_labels()
        for r in rows:
            r["connection"] = labels.get((r["owner"] == "server", r["port"]))
        rows.sort(key=lambda r: -int(r["drops_total"]))
        return dict(by_class), dict(rx_max), rows

    def socket_labels(self) -> dict[tuple[bool, int], str]:
        """(a server socket?, port) -> the connection it carries, e.g. "judge/publish"."""
        out: dict[tuple[bool, int], str] = {}
        for f in self.finals:
            for pc in f.get("pcs", []):
                if pc.get("ports") and pc.get("label"):
                    local, remote = pc["ports"]
                    out[(False, local)] = pc["label"]
                    out[(True, remote)] = pc["label"]
        return out

    def snmp(self) -> dict[str, Series]:
        return {
            k: spread([(x["s"], x["snmp"].get(k, 0)) for x in self.probe if x["snmp"]])
            for k in SNMP_KEYS
        }

    # -- events --------------------------------------------------------------------------

    def server_consent(self) -> list[float]:
        return sorted(self.raw["server_log"]["consent_expired"])

    def client_consent(self) -> list[float]:
        return sorted(t for f in self.finals for t in f.get("consent_expired", []))

    def connection_events(self) -> list[dict[str, Any]]:
        out = []
        for f in self.finals:
            for pc in f.get("pcs", []):
                for t, what, state in pc["events"]:
                    out.append(
                        {"t": round(t - self.w0, 2), "pc": pc["label"] or f"pc{pc['number']}",
                         "what": what, "state": state}
                    )  # fmt: skip
        out.sort(key=lambda e: e["t"])
        return out

    def server_connections(self) -> list[dict[str, Any]]:
        return [
            {"t": round(t - self.w0, 2), "pc": f"{self.names.get(pid, pid)}/{role}", "state": state}
            for t, pid, role, state in sorted(self.raw["server_log"].get("connections", []))
        ]

    def lags(self, lines: list[dict[str, Any]]) -> dict[int, list[float]]:
        out: dict[int, list[float]] = defaultdict(list)
        for line in lines:
            out[line["s"] - 1].extend(line["lags_ms"])
        return out


def category(thread: str) -> str:
    """Threads of one kind under one name: per-track decoders and recorders, pool workers."""
    return re.sub(r"\d+", "#", re.sub(r":.*$", ":*", thread))


def _owner_class(owner: str) -> str:
    return "clients" if owner.startswith("client:") else owner


def _lag_summary(lags: list[float]) -> dict[str, float | None]:
    return {
        "ticks": len(lags),
        "p50_ms": rounded(percentile(lags, 50)),
        "p99_ms": rounded(percentile(lags, 99)),
        "max_ms": rounded(max(lags) if lags else None),
    }


def _mean(series: Series, seconds: range) -> float | None:
    return rounded(_sum(series, seconds) / len(seconds), 3) if len(seconds) else None


def _state_shares(states: dict[int, dict[str, int]], seconds: Iterable[int]) -> dict[str, float]:
    total: dict[str, int] = defaultdict(int)
    for s in seconds:
        for k, v in states.get(s, {}).items():
            total[k] += v
    n = sum(total.values())
    return (
        {k: round(v / n, 3) for k, v in sorted(total.items(), key=lambda kv: -kv[1])} if n else {}
    )


def analyse(raw: dict[str, Any]) -> dict[str, Any]:
    a = Analysis(raw)
    frames = a.frames()
    sent = a.sent()
    cpu = a.cpu()
    threads, loop_wait, thread_counts = a.threads()
    states = a.loop_states()
    drops, rx_max, socket_rows = a.sockets()
    snmp = a.snmp()
    media = a.media_counters()
    server_lags = a.lags(a.server)
    client_lags: dict[str, dict[int, list[float]]] = {n: a.lags(v) for n, v in a.clients.items()}
    server_consent = a.server_consent()
    client_consent = a.client_consent()
    events = a.connection_events()
    server_events = a.server_connections()
    n = len(a.people)

    server_children: Series = {}
    clients_cpu: Series = {}
    for name, series in cpu.items():
        if name.startswith("server-child:"):
            _add(server_children, series)
        elif name.startswith("client:"):
            _add(clients_cpu, series)
    ours: Series = {}
    for series in (cpu.get("server", {}), server_children, clients_cpu,
                   cpu.get("orchestrator", {}), cpu.get("probe", {})):  # fmt: skip
        _add(ours, series)
    other = {s: max(0.0, v - ours.get(s, 0.0)) for s, v in cpu.get("machine_tasks", {}).items()}
    server_tree = dict(cpu.get("server", {}))
    _add(server_tree, server_children)

    def received(kind: str, s: int) -> float:
        return sum(v.get(s, 0.0) for (_, _, k), v in frames.items() if k == kind)

    def sent_at(pub: str, kind: str, s: int) -> float:
        return sent.get((pub, kind), {}).get(s, 0.0)

    def starved_pairs(s: int) -> int:
        return sum(
            1 for (_, pub, k), v in frames.items() if v.get(s, 0.0) < 0.5 * sent_at(pub, k, s)
        )

    def states_at(s: int, state: Callable[[str], bool]) -> int:
        return sum(1 for e in events if int(e["t"] // 1) == s - a.w0 and state(e["state"]))

    per_second = []
    for s in a.span:
        lags = server_lags.get(s, [])
        loop_cpu = threads.get(LOOP_TID_NAME, {}).get(s)
        row: dict[str, Any] = {
            "s": s - a.w0,
            "frames": {
                kind: {
                    "received": round(received(kind, s)),
                    "expected": round(
                        (n - 1) * sum(v.get(s, 0.0) for (_, k), v in sent.items() if k == kind)
                    ),
                    "nominal": n * (n - 1) * EXPECTED_FPS[kind],
                    "sent": round(sum(v.get(s, 0.0) for (_, k), v in sent.items() if k == kind)),
                }
                for kind in KINDS
            },
            "pairs_under_half": starved_pairs(s),
            "cpu": {
                "server": rounded(cpu.get("server", {}).get(s), 3),
                "server_children": rounded(server_children.get(s), 3),
                "clients": rounded(clients_cpu.get(s), 3),
                "other": rounded(other.get(s), 3),
                "softirq": rounded(cpu.get("softirq", {}).get(s), 3),
                "steal": rounded(cpu.get("steal", {}).get(s), 3),
                "loop_thread": rounded(loop_cpu, 3),
                "loop_thread_runqueue_wait": rounded(loop_wait.get(s), 3),
            },
            "loop_states": states.get(s, {}),
            "loop_lag_ms": {
                "p50": rounded(percentile(lags, 50)),
                "p99": rounded(percentile(lags, 99)),
                "max": rounded(max(lags) if lags else None),
                "ticks": len(lags),
            },
            "client_loop_lag_max_ms": {
                name: rounded(max(v.get(s, [0.0]) or [0.0])) for name, v in client_lags.items()
            },
            "udp_drops": {cls: round(v.get(s, 0.0)) for cls, v in drops.items()},
            "rx_queue_max_bytes": {cls: round(v.get(s, 0.0)) for cls, v in rx_max.items()},
            "snmp": {k: round(v.get(s, 0.0)) for k, v in snmp.items()},
            "media": {k: round(v.get(s, 0.0)) for k, v in media.items()},
            "consent_expired": {
                "server": sum(1 for t in server_consent if int(t) == s),
                "clients": sum(1 for t in client_consent if int(t) == s),
            },
            "client_connections_lost": states_at(s, lambda x: x in BAD_STATES),
        }
        per_second.append(row)

    window = a.window
    first_expiry = (int(server_consent[0]) - a.w0) if server_consent else None
    before = range(a.w0, a.w0 + first_expiry) if first_expiry and first_expiry > 0 else window
    last = range(a.w0 + max(0, a.seconds - LAST_S), a.w0 + a.seconds)

    pairs: list[dict[str, Any]] = []
    for (sub, pub, kind), series in sorted(frames.items()):
        # what the publisher sent in the same seconds (with DTX, silence is mostly withheld)
        published = sent.get((pub, kind), {})
        expected, expected_last = _sum(published, window), _sum(published, last)
        pairs.append(
            {
                "subscriber": sub,
                "publisher": pub,
                "kind": kind,
                "received": round(_sum(series, window)),
                "expected": round(expected),
                "ratio": rounded(_sum(series, window) / expected, 4) if expected else None,
                "ratio_last_20s": (
                    rounded(_sum(series, last) / expected_last, 4) if expected_last else None
                ),
            }
        )

    by_category: dict[str, Series] = defaultdict(dict)
    category_counts: dict[str, int] = defaultdict(int)
    for name, series in threads.items():
        _add(by_category[category(name)], series)
        category_counts[category(name)] += thread_counts.get(name, 1)

    def thread_top(seconds: range) -> list[dict[str, Any]]:
        rows = [
            {
                "thread": name,
                "threads": category_counts[name],
                "cpu_s_per_s": rounded(_sum(series, seconds) / len(seconds), 3),
            }
            for name, series in by_category.items()
        ]
        rows.sort(key=lambda r: -float(r["cpu_s_per_s"] or 0.0))
        return rows[:15]

    def window_lags(seconds: range) -> list[float]:
        return [x for s in seconds for x in server_lags.get(s, [])]

    totals: dict[str, Any] = {
        "frames": {
            kind: {
                "received": round(sum(received(kind, s) for s in window)),
                "expected": round(
                    (n - 1) * sum(_sum(v, window) for (_, k), v in sent.items() if k == kind)
                ),
                "nominal": n * (n - 1) * EXPECTED_FPS[kind] * len(window),
                "sent": round(sum(_sum(v, window) for (_, k), v in sent.items() if k == kind)),
                "sent_expected": n * EXPECTED_FPS[kind] * len(window),
            }
            for kind in KINDS
        },
        "per_subscriber_fps": {
            p["name"]: rounded(
                sum(_sum(v, window) for (sub, _, _), v in frames.items() if sub == p["name"])
                / len(window),
                1,
            )
            for p in a.people
        },
        # what the others sent, per subscriber on average (the nominal rate without DTX:
        # ``nominal_per_subscriber_fps``)
        "expected_per_subscriber_fps": rounded(
            (n - 1) / n * sum(_sum(v, window) for v in sent.values()) / len(window), 1
        ),
        "nominal_per_subscriber_fps": (n - 1) * sum(EXPECTED_FPS.values()),
        "pairs_ratio_min": min((p["ratio"] or 0.0 for p in pairs), default=None),
        "pairs_ratio_last_20s_min": {
            kind: min(
                (p["ratio_last_20s"] or 0.0 for p in pairs if p["kind"] == kind), default=None
            )
            for kind in KINDS
        },
        "cpu_s_per_s": {
            "server": _mean(cpu.get("server", {}), window),
            "server_children": _mean(server_children, window),
            "server_tree": _mean(server_tree, window),
            "clients": _mean(clients_cpu, window),
            "per_client_process": {
                name: _mean(series, window)
                for name, series in cpu.items()
                if name.startswith("client:")
            },
            "orchestrator": _mean(cpu.get("orchestrator", {}), window),
            "probe": _mean(cpu.get("probe", {}), window),
            "machine_tasks": _mean(cpu.get("machine_tasks", {}), window),
            "softirq": _mean(cpu.get("softirq", {}), window),
            "steal": _mean(cpu.get("steal", {}), window),
            "other_processes": _mean(other, window),
            "loop_thread": _mean(threads.get(LOOP_TID_NAME, {}), window),
            "loop_thread_runqueue_wait": _mean(loop_wait, window),
        },
        "threads_top": thread_top(window),
        "client_threads_top": sorted(
            (
                {"thread": name, "cpu_s_per_s": _mean(series, window)}
                for name, series in a.client_threads().items()
            ),
            key=lambda r: -float(r["cpu_s_per_s"] or 0.0),
        )[:8],
        "loop_states": _state_shares(states, window),
        "loop_lag": _lag_summary(window_lags(window)),
        "client_loop_lag": {
            name: _lag_summary([x for s in window for x in v.get(s, [])])
            for name, v in client_lags.items()
        },
        "udp_drops": {cls: round(_sum(v, window)) for cls, v in drops.items()},
        "snmp": {k: round(_sum(v, window)) for k, v in snmp.items()},
        "media": {k: round(_sum(v, window)) for k, v in media.items()},
        "consent_expired": {
            "server": len([t for t in server_consent if a.w0 <= t < a.w0 + a.seconds]),
            "server_s": [round(t - a.w0, 1) for t in server_consent],
            "clients": len([t for t in client_consent if a.w0 <= t < a.w0 + a.seconds]),
            "clients_s": [round(t - a.w0, 1) for t in client_consent],
        },
        # (the clients' own closing at the end is no loss)
        "client_connections_lost": [
            e for e in events if e["state"] in BAD_STATES and e["t"] < a.seconds
        ],
        "server_connections_lost": [
            e
            for e in server_events
            if e["state"] in BAD_STATES and e["t"] < a.seconds  # not the clients' leaving
        ],
    }
    if first_expiry is not None:
        totals["before_first_expiry"] = {
            "seconds": [0, first_expiry],
            "loop_lag": _lag_summary(window_lags(before)),
            "loop_states": _state_shares(states, before),
            "threads_top": thread_top(before),
            "cpu_s_per_s": {
                "server": _mean(cpu.get("server", {}), before),
                "server_children": _mean(server_children, before),
                "clients": _mean(clients_cpu, before),
                "loop_thread": _mean(threads.get(LOOP_TID_NAME, {}), before),
                "loop_thread_runqueue_wait": _mean(loop_wait, before),
            },
            "udp_drops": {cls: round(_sum(v, before)) for cls, v in drops.items()},
            "frames": {
                kind: {
                    "received": round(sum(received(kind, s) for s in before)),
                    "expected": n * (n - 1) * EXPECTED_FPS[kind] * len(before),
                }
                for kind in KINDS
            },
        }
    timeline = {k: round(v - a.w0, 2) for k, v in raw["timeline"].items()}
    return {
        "participants": n,
        "seconds": a.seconds,
        "timeline_s": timeline,
        "totals": totals,
        "per_second": per_second,
        "pairs": pairs,
        "sockets": socket_rows,
        "connection_events": events,
        "server_connection_events": server_events,
        "client_summaries": [p for f in a.finals for p in f.get("participants", [])],
        "join_failures": {k: v for f in a.finals for k, v in f.get("join_failures", {}).items()},
        "server_warnings": raw["server_log"]["warnings"],
    }
