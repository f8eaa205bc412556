"""Every third-party package our code imports is declared in pyproject.toml.

A package that only arrives as someone else's dependency can vanish or change under us on an
upgrade; what we import, we pin.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

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
)


def _imported_top_level_names() -> dict[str, str]:
    found: dict[str, str] = {}
    for pkg in OURS:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    found.setdefault(top, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    no_deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hearing-server"][
        "install-no-deps"
    ]
    return {
        re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-")
        for spec in [*project["dependencies"], *no_deps]
    }


def test_every_imported_package_is_declared() -> None:
    dists = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = []
    for name, where in _imported_top_level_names().items():
        if name in OURS or name in sys.stdlib_module_names or name == "__future__":
            continue
        owners = {d.lower().replace("_", "-") for d in dists.get(name, [])}
        assert owners, f"{name} (imported at {where}) is not installed"
        if not owners & declared:
            missing.append(f"{name} from {sorted(owners)} (imported at {where})")
    assert not missing, "declare in pyproject.toml [project] dependencies:\n" + "\n".join(missing)
