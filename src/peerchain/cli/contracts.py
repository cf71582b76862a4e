"""Compiling contracts for `peerchain deploy` (Vyper, through the `vyper` package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peerchain.core.errors import PeerChainError


class CompileError(PeerChainError):
    """A contract source could not be compiled."""


def compile_vyper(path: Path) -> tuple[list[dict[str, Any]], bytes]:
    """Compile a Vyper source file; return (abi, deployment bytecode)."""
    import vyper  # imported here: compiling is slow to load and only `deploy` needs it
    from vyper.exceptions import VyperException

    try:
        source = path.read_text()
    except OSError as exc:
        raise CompileError(f"cannot read {path}: {exc}") from exc
    try:
        out = vyper.compile_code(source, output_formats=["abi", "bytecode"])
    except VyperException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CompileError(f"{path}: {first}") from exc
    return list(out["abi"]), bytes.fromhex(str(out["bytecode"]).removeprefix("0x"))
