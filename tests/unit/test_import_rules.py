"""Imports point one way (docs/architecture.md): a forbidden import fails this test.

Every import statement of our packages is read with the ``ast`` module (including imports under
``TYPE_CHECKING`` and inside functions: a type-only edge is still a dependency of the design),
mapped to the layer it comes from and the layer it reaches, and checked against ``MAY_IMPORT``.
The same graph must also be free of cycles between layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = (
    "hearing_server",
    "signaling",
    "recording",
    "transcription",
    "lifeline",
    "mediakit",
    "identitykit",
    "messaging",
    "esign",
    "facekit",
    "livestream",
    "exhibits",
    "cluster",
    "testbed",
)
GROUND_FLOOR = {
    "signaling",
    "recording",
    "transcription",
    "lifeline",
    "mediakit",
    "identitykit",
    "messaging",
    "esign",
    "facekit",
    "livestream",
    "exhibits",
    "cluster",
}

# Who may import whom. A layer always may import itself and Python's and third parties' code.
# The ground floor (recording, transcription, the signaling client and protocol constants,
# lifeline) never imports the application; the application may use any of it.
MAY_IMPORT: dict[str, set[str]] = {
    "signaling": set(),
    # recorder threads run behind the event loop (lifeline.priority)
    "recording": {"lifeline", "mediakit"},
    "transcription": {"lifeline", "mediakit"},  # the engine's child process guards itself
    "lifeline": set(),
    "mediakit": set(),
    # What identity checks need outside the domain: the GB 11643 check, keyed hashes, codes.
    "identitykit": set(),
    # Message senders (outbox, SMTP, SMS gateway): one-time codes, later electronic service.
    "messaging": set(),
    # Agreement PDFs, PAdES signatures, the signing CA, the RFC 3161 responder, verification.
    # The signing steps run in a child process that dies with the server.
    "esign": {"lifeline"},
    # Face match and liveness: its worker process guards itself with lifeline.
    "facekit": {"lifeline"},
    # HLS segments from the composite, the broadcast delay, the judge's cut and the slate.
    "livestream": {"lifeline"},  # its segmenter thread runs behind the event loop
    # Exhibit files: content checks, resumable uploads, sealed files, PDF pages (PDFium).
    "exhibits": set(),
    # Which node serves which hearing: leases in Redis, or this one process.
    "cluster": set(),
    # Throwaway Redis, PostgreSQL and server processes for the tests and benchmarks: it
    # starts the server as a process and imports none of it; nothing shipped imports it.
    "testbed": set(),
    "hearing_server.core": set(),
    "hearing_server.schema": set(),
    # The media settings' defaults; the core validates the default identity policy (everything
    # may import the core: it imports nothing of ours).
    "hearing_server.config": {"hearing_server.media", "hearing_server.core"},
    "hearing_server.auth": {"hearing_server.core"},
    # Prometheus metrics: protocols for what it reads; the wiring hands the objects in.
    "hearing_server.metrics": {"hearing_server.core"},
    "hearing_server.store": {"hearing_server.core"},
    "hearing_server.media": {"hearing_server.core"},
    "hearing_server.service": {
        "hearing_server.core",
        "hearing_server.store",
        "hearing_server.auth",
    },
    "hearing_server.signaling": {
        "hearing_server.core",
        "hearing_server.auth",
        "hearing_server.schema",
        "hearing_server.service",
        "hearing_server.logs",
    },
    "hearing_server.wiring": {
        "hearing_server.keys",
        "hearing_server.config",
        "hearing_server.core",
        "hearing_server.store",
        "hearing_server.auth",
        "hearing_server.media",
        "hearing_server.service",
        "hearing_server.signaling",
        "hearing_server.metrics",
    },
    "hearing_server.api": {
        "hearing_server.core",
        "hearing_server.auth",
        "hearing_server.schema",
        "hearing_server.service",
        "hearing_server.keys",
        "hearing_server.logs",
    },
    # Type-only: the AppKeys name what the features store, by their ports where they have one.
    "hearing_server.keys": {
        "hearing_server.auth",
        "hearing_server.config",
        "hearing_server.media",
        "hearing_server.service",
        "hearing_server.signaling",
        "hearing_server.store",
        "hearing_server.metrics",
    },
    "hearing_server.app": {"*"},  # the composition root knows everything
    # rewrites aiohttp's log records of a client's malformed request; imports nothing of ours
    "hearing_server.log_filters": set(),
    # the access log with the secrets of service links and tickets hidden
    "hearing_server.access_log": {"hearing_server.logs"},
    # request ids on every log line, and the JSON log format; imports nothing of ours
    "hearing_server.logs": set(),
    "hearing_server.cli": {"*"},
    "hearing_server.serve": {"*"},  # runs the app in this process (signals, run dir, children)
    # serve --workers: each worker's settings, and the supervisor that runs them; neither
    # touches the app (the workers run hearing_server.serve)
    "hearing_server.workers": {
        "hearing_server.config",
        "hearing_server.serve",
        "hearing_server.supervisor",
    },
    "hearing_server.supervisor": set(),
    "hearing_server.__main__": {"hearing_server.cli"},
}
for _layer in GROUND_FLOOR:
    for _app_layer, _allowed in MAY_IMPORT.items():
        if _app_layer.startswith("hearing_server.") and "*" not in _allowed:
            _allowed.add(_layer)


def layer_of(module: str) -> str | None:
    """``hearing_server.service.live`` -> ``hearing_server.service``; ``recording.x`` -> itself."""
    parts = module.split(".")
    if parts[0] not in OURS:
        return None
    if parts[0] != "hearing_server":
        return parts[0]
    if len(parts) == 1:
        return "hearing_server"
    return f"hearing_server.{parts[1]}"


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None or target == "hearing_server":
                # `from . import x` / `from hearing_server import keys`: the names are modules.
                for alias in node.names:
                    yield node.lineno, f"{target}.{alias.name}"
            else:
                yield node.lineno, target


def _sources(root: Path = ROOT) -> list[Path]:
    return sorted(p for pkg in OURS for p in (root / pkg).rglob("*.py"))


def import_edges(root: Path = ROOT) -> list[tuple[str, str, str]]:
    """(importing layer, imported layer, 'file:line') for every import between our layers."""
    edges = []
    for path in _sources(root):
        src = layer_of(_module_name(path, root))
        assert src is not None
        for line, target in _imports(path, root):
            dst = layer_of(target)
            if dst is None or dst == src or dst == "hearing_server":
                continue
            edges.append((src, dst, f"{path.relative_to(root)}:{line}"))
    return edges


def test_every_layer_is_known() -> None:
    layers = {layer_of(_module_name(p, ROOT)) for p in _sources()}
    layers.discard("hearing_server")
    assert layers <= set(MAY_IMPORT), f"add these layers to MAY_IMPORT: {layers - set(MAY_IMPORT)}"


def test_imports_point_one_way() -> None:
    bad = [
        f"{where}: {src} imports {dst}"
        for src, dst, where in import_edges()
        if "*" not in MAY_IMPORT[src] and dst not in MAY_IMPORT[src]
    ]
    assert not bad, "forbidden imports (see docs/architecture.md):\n" + "\n".join(bad)


def test_nothing_imports_the_composition_root() -> None:
    bad = [
        where
        for src, dst, where in import_edges()
        if dst == "hearing_server.app" and src not in ("hearing_server.cli", "hearing_server.serve")
    ]
    assert not bad, bad


def test_no_cycles_between_layers() -> None:
    graph: dict[str, set[str]] = {}
    for src, dst, _ in import_edges():
        graph.setdefault(src, set()).add(dst)
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        if node in visiting:
            cycle = [*visiting[visiting.index(node) :], node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        visiting.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: a ground-floor module importing the application is found."""
    (tmp_path / "recording").mkdir()
    (tmp_path / "recording" / "__init__.py").write_text("")
    (tmp_path / "recording" / "probe.py").write_text(
        "from hearing_server.core.hearing import Hearing\nfrom . import sibling\n"
        "if TYPE_CHECKING:\n    from hearing_server.media.taps import EncodedFrame\n"
    )
    found = {(s, d) for s, d, _ in import_edges(tmp_path)}
    assert found == {("recording", "hearing_server.core"), ("recording", "hearing_server.media")}
