"""docs/architecture.md is the map of the code: every module of src/peerchain is on it, and
every module path it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "peerchain"
MAP = ROOT / "docs" / "architecture.md"


def _modules() -> list[Path]:
    return sorted(
        p.relative_to(SRC)
        for p in SRC.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )


def test_every_module_is_on_the_map() -> None:
    text = MAP.read_text()
    missing = []
    for module in _modules():
        package = f"`{module.parent.as_posix()}/`"
        short = f"`{module.parent.name}/`"
        named = f"`{module.as_posix()}`" in text or (
            f"`{module.name}`" in text and (package in text or short in text)
        )
        if not named:
            missing.append(module.as_posix())
    assert not missing, (
        f"modules not on docs/architecture.md: {missing}; add each to section 11 (Module "
        "index) and to the section describing what it does"
    )


def test_every_module_path_on_the_map_exists() -> None:
    text = MAP.read_text()
    named = set(re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.(?:py|js|vy))`", text))
    files = [p for top in ("src", "tests") for p in (ROOT / top).rglob("*") if p.is_file()]
    known = {p.relative_to(ROOT).as_posix() for p in files}
    gone = sorted(
        path
        for path in named
        if not (ROOT / path).is_file() and not any(k.endswith("/" + path) for k in known)
    )
    assert not gone, f"docs/architecture.md names files that do not exist: {gone}"
