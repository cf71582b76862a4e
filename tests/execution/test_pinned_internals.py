"""py-evm is pinned exactly because execution/ uses its internals: fail loudly if they move.

Lifting the pin in pyproject.toml makes the first test fail until the new version is checked
against the internals below (and the pin's comment) and this file is updated with it.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

# Every py-evm name execution/ imports that is not part of its documented API surface.
INTERNALS = {
    "eth._utils.address": ["generate_contract_address"],
    "eth._utils.db": ["apply_state_dict"],
    "eth.db.atomic": ["AtomicDB"],
    "eth.db.backends.base": ["BaseDB"],
    "eth.db.chain": ["ChainDB"],
    "eth.db.chain_gaps": ["reopen_gap"],
    "eth.db.schema": ["SchemaV1"],
    "eth.rlp.sedes": ["chain_gaps"],
    "eth.vm.chain_context": ["ChainContext"],
    "eth.vm.spoof": ["SpoofTransaction"],
    "eth.vm.forks.cancun.blocks": ["CancunBlockHeader"],
    "eth.vm.forks.prague": ["PragueVM"],
    "eth.precompiles": ["point_evaluation"],
}


def _pinned_version() -> str:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    [spec] = [d for d in dependencies if re.match(r"py-evm\b", d)]
    match = re.fullmatch(r"py-evm==(\S+)", spec)
    assert match, f"py-evm must be pinned exactly in pyproject.toml, found {spec!r}"
    return match.group(1)


def test_installed_py_evm_is_the_pinned_version() -> None:
    assert version("py-evm") == _pinned_version()


@pytest.mark.parametrize("module", sorted(INTERNALS))
def test_internal_names_used_by_execution_exist(module: str) -> None:
    loaded = importlib.import_module(module)
    missing = [name for name in INTERNALS[module] if not hasattr(loaded, name)]
    assert missing == []
