"""Every authorization goes through ``hearing_server.core.permissions`` (docs/architecture.md).

A service that tests ``actor.is_staff`` or ``actor.is_system`` itself is writing its own
authorization beside the one path (it happened: five copies once, then again as new features
arrived). Outside the core, those properties are read by nobody; use ``authorize``,
``require_staff`` or ``is_authorized``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACTOR_PROPERTIES = {"is_staff", "is_system"}


def hand_written_checks(package: Path) -> list[str]:
    """``file:line`` of every read of an actor's staff or system property outside the core."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if (package / "core") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ACTOR_PROPERTIES:
                found.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    return found


def test_no_service_checks_staff_or_system_by_hand() -> None:
    found = hand_written_checks(ROOT / "hearing_server")
    assert not found, "authorize through hearing_server.core.permissions instead:\n" + "\n".join(
        found
    )


def test_the_rule_catches_a_hand_written_check(tmp_path: Path) -> None:
    package = tmp_path / "hearing_server"
    (package / "core").mkdir(parents=True)
    (package / "service").mkdir()
    (package / "core" / "permissions.py").write_text("ok = actor.is_staff\n")
    (package / "service" / "x.py").write_text(
        "def f(actor):\n    if not (actor.is_staff or actor.is_system):\n        raise E\n"
    )
    assert hand_written_checks(package) == ["hearing_server/service/x.py:2"] * 2
