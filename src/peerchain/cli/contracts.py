"""Compiling contracts for `peerchain compile` and `peerchain deploy`: Vyper (.vy, through
the `vyper` package) and Solidity (.sol, through solc or solc-js: see cli/solidity.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from peerchain.cli.solidity import DEFAULT_EVM_VERSION, SolidityError, compile_solidity
from peerchain.core.errors import PeerChainError


class CompileError(PeerChainError):
    """A contract source could not be compiled."""


@dataclass(frozen=True, slots=True)
class Compiled:
    """One compiled contract: its name, ABI and deployment bytecode (no arguments)."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes

    def artifact(self) -> dict[str, Any]:
        """The JSON written by `peerchain compile` (Hardhat's artifact fields)."""
        return {"contractName": self.name, "abi": self.abi, "bytecode": "0x" + self.bytecode.hex()}


def compile_vyper(path: Path, evm_version: str = DEFAULT_EVM_VERSION) -> Compiled:
    """Compile a Vyper source file. Raises CompileError."""
    import vyper  # imported here: compiling is slow to load and only some commands need it
    from vyper.exceptions import VyperException

    try:
        source = path.read_text()
    except OSError as exc:
        raise CompileError(f"cannot read {path}: {exc}") from exc
    try:
        out = vyper.compile_code(
            source, output_formats=["abi", "bytecode"], settings=_vyper_settings(evm_version)
        )
    except VyperException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CompileError(f"{path}: {first}") from exc
    bytecode = bytes.fromhex(str(out["bytecode"]).removeprefix("0x"))
    return Compiled(path.stem, list(out["abi"]), bytecode)


def _vyper_settings(evm_version: str) -> Any:
    from vyper.compiler.settings import Settings

    return Settings(evm_version=evm_version)


def compile_file(path: Path, evm_version: str = DEFAULT_EVM_VERSION) -> list[Compiled]:
    """Every deployable contract of a .vy or .sol file. Raises CompileError."""
    if path.suffix == ".vy":
        return [compile_vyper(path, evm_version)]
    if path.suffix == ".sol":
        try:
            found = compile_solidity(path, evm_version)
        except SolidityError as exc:
            raise CompileError(str(exc)) from exc
        return [Compiled(name, abi, code) for name, (abi, code) in found.items()]
    raise CompileError(f"{path}: not a contract source (expected .vy or .sol)")


def compile_contract(
    path: Path, name: str | None = None, evm_version: str = DEFAULT_EVM_VERSION
) -> Compiled:
    """The contract `name` of a source file (the file's only one, or the one named like
    the file, when `name` is None). Raises CompileError."""
    compiled = compile_file(path, evm_version)
    by_name = {c.name: c for c in compiled}
    if name is not None:
        if name not in by_name:
            raise CompileError(f"{path}: no contract {name!r} (found {', '.join(by_name)})")
        return by_name[name]
    if len(compiled) == 1:
        return compiled[0]
    if path.stem in by_name:
        return by_name[path.stem]
    raise CompileError(
        f"{path} has several contracts: choose one with --contract ({', '.join(by_name)})"
    )


evm_version_option = click.option(
    "--evm-version",
    default=DEFAULT_EVM_VERSION,
    show_default=True,
    help="EVM version to compile for.",
)


@click.command("compile")
@evm_version_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write <contract>.json artifacts (abi, bytecode) here instead of printing them.",
)
@click.argument(
    "sources", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def compile_command(evm_version: str, out_dir: Path | None, sources: tuple[Path, ...]) -> None:
    """Compile Vyper (.vy) and Solidity (.sol) SOURCES: ABI and bytecode of each contract."""
    artifacts = [c.artifact() for source in sources for c in compile_file(source, evm_version)]
    if out_dir is None:
        click.echo(json.dumps(artifacts if len(artifacts) > 1 else artifacts[0], indent=2))
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for artifact in artifacts:
        target = out_dir / f"{artifact['contractName']}.json"
        target.write_text(json.dumps(artifact, indent=2) + "\n")
        click.echo(f"wrote {target}")
