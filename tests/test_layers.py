"""The import directions of DESIGN.md section 2, checked on the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "peerchain"

# Which peerchain packages each package may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "execution": {"core"},
    "node": {"core", "execution"},
    "drivers": {"core", "node.ports"},
    "rpc": {"core", "node.view"},
    "explorer": {"core", "node.view", "rpc"},
    "testing": {"core", "execution", "node", "drivers"},
    "tools": {"core", "execution", "node", "drivers", "testing"},
    "cli": {"core", "execution", "node", "drivers", "rpc", "explorer", "testing", "tools"},
}

# Third-party libraries confined to one place (module path prefixes under peerchain).
CONFINED: dict[str, tuple[str, ...]] = {
    "eth": ("execution",),
    "lmdb": ("drivers.storage",),
    "aiohttp": ("rpc.server",),
    "coincurve": ("core.crypto",),
    "noise": ("core.p2p.noise", "core.crypto"),
}

# The pure core must not touch I/O, threads, time or randomness.
IMPURE = {"asyncio", "socket", "threading", "time", "random", "os", "subprocess", "selectors"}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        found.append((".".join(parts), path))
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = _modules()


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_module_respects_layers(module: str, path: Path) -> None:
    package = module.split(".")[0]
    allowed = ALLOWED.get(package)
    for name in _imports(path):
        if name.startswith("peerchain.") and allowed is not None:
            target = name.removeprefix("peerchain.")
            ok = target.split(".")[0] == package or any(
                target == a or target.startswith(a + ".") for a in allowed
            )
            assert ok, f"{module} imports {name}, which its layer may not"
        top = name.split(".")[0]
        if top in CONFINED:
            assert any(module.startswith(p) for p in CONFINED[top]), (
                f"{module} imports {top}, which lives only in {CONFINED[top]}"
            )
        if package == "core":
            assert top not in IMPURE, f"pure core module {module} imports {top}"


def test_checker_sees_the_tree() -> None:
    names = {m for m, _ in MODULES}
    assert "core.crypto" in names and "node.view" in names
