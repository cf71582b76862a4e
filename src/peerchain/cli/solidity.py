"""Compiling Solidity for `peerchain compile` and `peerchain deploy`.

The compiler is `solc` on PATH if there is one, otherwise solc-js (the npm package
"solc") run by Node.js through `solcjs/compile.js`, found in $PEERCHAIN_SOLCJS, in
./node_modules/solc, or in the .solc/node_modules/solc that `make solc` installs (in the
working directory or the source checkout). Both get solc's standard-JSON input with
every imported file already read: relative imports resolve against the importing file,
others against the main file's directory and each node_modules above it.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from peerchain.core.errors import PeerChainError

DEFAULT_EVM_VERSION = "prague"
SOLCJS_PACKAGE = "solc@0.8.30"  # what `make solc` installs
RUNNER = Path(__file__).with_name("solcjs") / "compile.js"
CHECKOUT = Path(__file__).resolve().parents[3]  # the source tree, for an editable install
NO_COMPILER = (
    "no Solidity compiler: put solc on PATH, or install Node.js and solc-js "
    f"(`make solc`, or `npm install {SOLCJS_PACKAGE}` here)"
)
MAX_SOURCES = 2000
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_IMPORT = re.compile(r"""\bimport\s+(?:[^'";]*?\bfrom\s+)?["']([^"']+)["']""")


class SolidityError(PeerChainError):
    """A Solidity source could not be compiled (or no compiler is installed)."""


def _solcjs_package() -> Path | None:
    candidates = [os.environ.get("PEERCHAIN_SOLCJS")]
    candidates += [str(Path.cwd() / "node_modules" / "solc")]
    candidates += [str(Path.cwd() / ".solc" / "node_modules" / "solc")]
    candidates += [str(CHECKOUT / ".solc" / "node_modules" / "solc")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "soljson.js").is_file():
            return Path(candidate)
    return None


def compiler_command() -> list[str]:
    """The command that reads standard JSON on stdin. Raises SolidityError if none."""
    solc = shutil.which("solc")
    if solc is not None:
        return [solc, "--standard-json"]
    node = shutil.which("node")
    package = _solcjs_package()
    if node is None or package is None:
        raise SolidityError(NO_COMPILER)
    return [node, str(RUNNER), str(package)]


def _search_roots(main: Path) -> list[Path]:
    roots = [main.parent]
    roots += [d / "node_modules" for d in (main.parent, *main.parent.parents)]
    return [r for r in roots if r.is_dir()]


def collect_sources(main: Path) -> dict[str, dict[str, str]]:
    """Standard-JSON `sources` for `main` and everything it imports, by unit name."""
    sources: dict[str, dict[str, str]] = {}
    roots = _search_roots(main)
    pending: list[tuple[str, Path]] = [(main.name, main)]
    while pending:
        unit, path = pending.pop()
        if unit in sources:
            continue
        if len(sources) >= MAX_SOURCES:
            raise SolidityError(f"{main}: more than {MAX_SOURCES} imported files")
        try:
            text = path.read_text()
        except OSError as exc:
            raise SolidityError(f"cannot read {path}: {exc.strerror or exc}") from exc
        sources[unit] = {"content": text}
        for target in _IMPORT.findall(_COMMENTS.sub("", text)):
            name = target
            if target.startswith("."):
                name = posixpath.normpath(posixpath.join(posixpath.dirname(unit), target))
            found = next((r / name for r in roots if (r / name).is_file()), None)
            if found is None:
                raise SolidityError(f"{unit}: import {target!r} not found")
            pending.append((name, found))
    return sources


def standard_input(main: Path, evm_version: str, optimize: bool) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": collect_sources(main),
        "settings": {
            "evmVersion": evm_version,
            "optimizer": {"enabled": optimize, "runs": 200},
            "outputSelection": {main.name: {"*": ["abi", "evm.bytecode.object"]}},
        },
    }


def _first_error(errors: list[dict[str, Any]]) -> str | None:
    for error in errors:
        if error.get("severity") == "error":
            where = ""
            lines = str(error.get("formattedMessage", "")).splitlines()
            location = next((ln.strip() for ln in lines if ln.strip().startswith("-->")), "")
            if location:
                where = f" ({location.removeprefix('-->').strip()})"
            return f"{error.get('type', 'Error')}: {error.get('message', '')}{where}"
    return None


def compile_solidity(
    main: Path, evm_version: str = DEFAULT_EVM_VERSION, optimize: bool = False
) -> dict[str, tuple[list[dict[str, Any]], bytes]]:
    """Every contract of `main` that has bytecode: name -> (abi, deployment bytecode).

    Raises SolidityError with the compiler's first error, or NO_COMPILER."""
    command = compiler_command()
    request = json.dumps(standard_input(main, evm_version, optimize))
    try:
        done = subprocess.run(command, input=request, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise SolidityError(f"cannot run {command[0]}: {exc.strerror or exc}") from exc
    try:
        output = json.loads(done.stdout)
    except ValueError:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SolidityError(f"the Solidity compiler failed: {detail}") from None
    error = _first_error(output.get("errors", []))
    if error is not None:
        raise SolidityError(f"{main}: {error}")
    contracts = output.get("contracts", {}).get(main.name, {})
    compiled = {
        name: (list(c["abi"]), bytes.fromhex(c["evm"]["bytecode"]["object"]))
        for name, c in contracts.items()
        if c["evm"]["bytecode"]["object"]
    }
    if not compiled:
        raise SolidityError(f"{main}: no deployable contract in the file")
    return compiled
