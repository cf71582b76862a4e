"""The layer rules of docs/architecture.md ("Layers and import rules"), checked on the source.

Three rules, over every import statement of `src/peerchain` (absolute and relative, at
module level or inside functions):
- a package imports only the peerchain packages its layer may (`ALLOWED`), and drivers
  never import each other (but all may use `drivers.files`);
- the pure core imports nothing that does I/O, threads, time or randomness (`IMPURE`);
- each third-party library is imported by the one module (or package) that owns it
  (`OWNERS`), and is declared in pyproject.toml. Test code may import anything declared.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "peerchain"

# Which peerchain packages each package may import (besides itself and the root package).
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

# The one drivers module every driver may import: the durable file writes they share.
SHARED_DRIVER = "drivers.files"

# The one place that imports each third-party library (a module, or a whole package where
# docs/architecture.md says why). Add a library here and there together.
OWNERS: dict[str, str] = {
    # py-evm and the libraries its API is written in (types, errors, trie, KZG backend)
    "eth": "execution",
    "eth_typing": "execution",
    "eth_utils": "execution",
    "trie": "execution",
    "ckzg": "execution.vm",
    "rlp": "core.rlp",
    "eth_hash": "core.crypto",
    "coincurve": "core.crypto",
    "cryptography": "core.crypto",
    "noise": "core.p2p.noise",
    "lmdb": "drivers.storage",
    "xxhash": "drivers.storage",
    "eth_account": "drivers.keystore",
    "aiohttp": "rpc.server",
    "orjson": "rpc.jsoncodec",
    "uvloop": "cli.eventloop",
    "prometheus_client": "node.metrics",
    # the command line: every command module is made of click decorators
    "click": "cli",
    "rich": "cli.progress",
    "eth_abi": "core.abi",
    "vyper": "cli.contracts",
}

# The pure core must not touch I/O, threads, time or randomness.
IMPURE = {
    "asyncio", "concurrent", "datetime", "fcntl", "glob", "http", "io", "mmap",
    "multiprocessing", "os", "pathlib", "random", "secrets", "selectors", "shutil", "signal",
    "socket", "sqlite3", "ssl", "subprocess", "tempfile", "threading", "time", "urllib",
}  # fmt: skip


def _modules() -> dict[str, Path]:
    """Dotted module names under peerchain ("" is the root package) -> their file."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = [p for p in path.relative_to(SRC).with_suffix("").parts if p != "__init__"]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def imported_names(source: str, module: str, *, is_package: bool) -> set[str]:
    """The absolute dotted names a peerchain module's source imports.

    Relative imports are resolved against the module's package; `from a import b`
    counts as importing `a.b` when that is a peerchain module, else `a`.
    """
    here = ["peerchain", *module.split(".")] if module else ["peerchain"]
    package = here if is_package else here[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level > len(package):
                    raise ValueError(f"{module}: relative import beyond the top package")
                base = ".".join(package[: len(package) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                is_module = submodule.removeprefix("peerchain.") in MODULES
                names.add(submodule if submodule.startswith("peerchain.") and is_module else base)
    return names


def _package(module: str) -> str:
    return module.split(".")[0]


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_violations(module: str, names: set[str]) -> list[str]:
    """What is wrong with `module` importing `names`, one sentence per offence."""
    package = _package(module)
    problems = []
    for name in sorted(names):
        top = name.split(".")[0]
        if top == "peerchain":
            target = name.removeprefix("peerchain").removeprefix(".")
            if not target or _package(target) == package:
                if (
                    package == "drivers"
                    and target
                    and target.split(".")[:2] != module.split(".")[:2]
                    and target != SHARED_DRIVER
                ):
                    problems.append(f"{module} imports {name}: drivers never import each other")
                continue
            allowed = ALLOWED.get(package, set())
            if not any(_within(target, a) for a in allowed):
                problems.append(
                    f"{module} imports {name}, but the {package} layer may import only "
                    f"{sorted(allowed) or 'itself'}"
                )
        elif top in sys.stdlib_module_names or top == "__future__":
            if package == "core" and top in IMPURE:
                problems.append(f"{module} is in the pure core but imports {top}")
        elif top not in OWNERS:
            problems.append(
                f"{module} imports {top}, which has no owner: choose the one module that "
                "imports it and add it to OWNERS in tests/test_layers.py and to "
                "docs/architecture.md"
            )
        elif not _within(module, OWNERS[top]):
            problems.append(
                f"{module} imports {top}, which only peerchain.{OWNERS[top]} may import: "
                f"use what peerchain.{OWNERS[top]} offers (or extend it)"
            )
    return problems


@pytest.mark.parametrize("module", sorted(MODULES), ids=lambda m: m or "peerchain")
def test_module_respects_layers(module: str) -> None:
    path = MODULES[module]
    names = imported_names(path.read_text(), module, is_package=path.name == "__init__.py")
    problems = layer_violations(module, names)
    assert not problems, "\n".join(problems)


def test_every_owner_is_a_module_of_the_tree() -> None:
    missing = {lib: owner for lib, owner in OWNERS.items() if owner not in MODULES}
    assert not missing, f"owners that are not modules or packages of peerchain: {missing}"


def _declared(extras: bool) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    if extras:
        specs += [s for group in project["optional-dependencies"].values() for s in group]
    return {_normalize(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0]) for spec in specs}


def _normalize(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _third_party(paths: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top not in sys.stdlib_module_names and top not in ("__future__", "peerchain"):
                    found.setdefault(top, path)
    return found


@pytest.mark.parametrize("scope", ["src", "tests", "benchmarks"])
def test_every_third_party_import_is_declared_in_pyproject(scope: str) -> None:
    """The code needs only what `pip install .` brings; tests and benchmarks add the extras."""
    local = {p.stem for p in (ROOT / scope).rglob("*.py")} | {
        p.name for p in (ROOT / scope).rglob("*") if p.is_dir()
    }
    imports = _third_party(sorted((ROOT / scope).rglob("*.py")))
    declared = _declared(extras=scope != "src")
    distributions = packages_distributions()
    undeclared = {
        top: str(path.relative_to(ROOT))
        for top, path in imports.items()
        if top not in local
        and not {_normalize(d) for d in distributions.get(top, [top])} & declared
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_relative_imports_are_resolved_and_checked() -> None:
    source = "from ...drivers import storage\nfrom .. import fees\nfrom ..consensus import wire\n"
    names = imported_names(source, "core.p2p.gossip", is_package=False)
    assert names == {
        "peerchain.drivers.storage",
        "peerchain.core.fees",
        "peerchain.core.consensus.wire",
    }
    assert layer_violations("core.p2p.gossip", names) == [
        "core.p2p.gossip imports peerchain.drivers.storage, but the core layer may import only "
        "itself"
    ]


def test_a_library_outside_its_owner_names_the_owner() -> None:
    names = imported_names(
        "import rlp\nfrom lmdb import Environment\n", "node.ledger", is_package=False
    )
    problems = layer_violations("node.ledger", names)
    assert any("only peerchain.core.rlp may import" in p for p in problems)
    assert any("only peerchain.drivers.storage may import" in p for p in problems)
    assert layer_violations("drivers.wal", {"peerchain.drivers.storage"}) == [
        "drivers.wal imports peerchain.drivers.storage: drivers never import each other"
    ]
    assert layer_violations("drivers.wal", {"peerchain.drivers.files"}) == []
    assert layer_violations("core.mempool", {"time"}) == [
        "core.mempool is in the pure core but imports time"
    ]
