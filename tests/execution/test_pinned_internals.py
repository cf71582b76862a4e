"""py-evm is pinned exactly because execution/ uses its internals: fail loudly if they move.

Lifting the pin in pyproject.toml makes the first test fail until the new version is checked
against the internals below (and the pin's comment) and this file is updated with it.
"""

from __future__ import annotations

import importlib
import logging
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from peerchain.execution.computation import STACK_CALLS

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
    # tracing (execution/tracing/hooks.py) wraps the interpreter's opcode table
    "eth.vm.logic.invalid": ["InvalidOpcode"],
    "eth.vm.computation": ["BaseComputation", "memory_gas_cost"],
    # execution/computation.py charges the gas of these opcodes itself
    "eth.vm.opcode": ["_FastOpcode"],
    # ... replaces the computation's stack and memory by subclasses of py-evm's, and
    # charges memory growth with py-evm's cost function
    "eth.vm.stack": ["Stack", "to_int"],
    "eth.vm.memory": ["Memory"],
    "eth._utils.numeric": ["ceil32"],
    # ... and gives these modules a cheaper `encode_hex`
    "eth.vm.logic.storage": ["encode_hex"],
    "eth.vm.forks.frontier.state": ["encode_hex"],
    # The state layer (execution/accountdb.py) replaces py-evm's AccountDB through the
    # fork's state class; tests compare it with py-evm's own.
    "eth.db.account": ["AccountDB"],
    "eth.db.witness": ["MetaWitness"],
    "eth.typing": ["JournalDBCheckpoint"],
    "eth.validation": [
        "validate_uint64",
        "validate_uint256",
        "validate_stack_int",
        "validate_stack_bytes",
    ],
    "eth.vm.interrupt": ["MissingBytecode"],
    "eth.vm.forks.cancun.state": ["CancunState", "encode_hex"],
    "eth.vm.forks.prague.state": ["PragueState"],
}

# Attributes of py-evm objects that tracing reads or overrides.
ATTRIBUTES = [
    ("eth.vm.stack", "Stack", (), "values"),
    ("eth.vm.memory", "Memory", (), "_bytes"),
    ("eth.vm.code_stream", "CodeStream", (b"",), "program_counter"),
    # execution/computation.py shares a code's jump-destination answers between
    # computations and charges gas straight into the meter
    ("eth.vm.code_stream", "CodeStream", (b"",), "valid_positions"),
    ("eth.vm.code_stream", "CodeStream", (b"",), "invalid_positions"),
    ("eth.vm.gas_meter", "GasMeter", (0,), "gas_remaining"),
    ("eth.vm.stack", "Stack", (), "_pop"),
]
# (`_precompiles` and `get_precompiles`: state overrides that move precompiles,
# execution/calls.py; `_stack`, whose `values` execution/simulate.py reads)
CLASS_ATTRIBUTES = {
    "BaseComputation": [
        "opcodes",
        "generate_child_computation",
        "apply_computation",
        "_precompiles",
        "get_precompiles",
        "_stack",
        # execution/computation.py
        "_gas_meter",
        "_memory",
        "consume_gas",
        "extend_memory",
        *(f"stack_{name}" for name in STACK_CALLS),
    ],
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


@pytest.mark.parametrize(("module", "cls", "args", "attribute"), ATTRIBUTES)
def test_instance_attributes_used_by_tracing_exist(
    module: str, cls: str, args: tuple[object, ...], attribute: str
) -> None:
    instance = getattr(importlib.import_module(module), cls)(*args)
    assert hasattr(instance, attribute)


def test_computation_hooks_used_by_tracing_exist() -> None:
    from eth.vm.computation import BaseComputation

    for name in CLASS_ATTRIBUTES["BaseComputation"]:
        assert hasattr(BaseComputation, name)


@pytest.mark.parametrize("fork", ["Cancun", "Prague"])
def test_the_vms_execute_on_the_state_layer(fork: str) -> None:
    """py-evm builds a VM's state from its `_state_class`, whose `account_db_class` holds
    the accounts: both must still be where execution/vm.py sets them."""
    from peerchain.execution.accountdb import AccountDB
    from peerchain.execution.vm import FORKS

    for vm in (FORKS[fork].vm, FORKS[fork].dev_vm):
        assert vm.get_state_class().get_account_db_class() is AccountDB


def test_the_vms_run_the_lean_computation_and_a_kept_state_logger() -> None:
    """execution/vm.py sets the state's `computation_class` and replaces its `logger`
    property (built on every access in py-evm) with one logger."""
    from eth.vm.state import BaseState

    from peerchain.execution.computation import CheapBookkeeping
    from peerchain.execution.vm import FORKS

    assert isinstance(BaseState.__dict__["logger"], property)
    for machine in FORKS.values():
        state_class = machine.vm.get_state_class()
        assert issubclass(state_class.computation_class, CheapBookkeeping)
        assert isinstance(state_class.logger, logging.Logger)
