"""Queries that run the EVM on a block's state without making a block: eth_call,
eth_estimateGas, access lists, traces, eth_simulateV1, and the pending block's header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from eth.abc import BlockHeaderAPI, StateAPI
from eth.chains.base import Chain
from eth.exceptions import HeaderNotFound
from eth_typing import Hash32

from peerchain.core.blocks import Header
from peerchain.core.genesis import ZERO_HASH
from peerchain.core.queries import BlockOverrides, CallRequest, StateOverrides
from peerchain.core.simulate import PlannedBlock, SimulatedBlock, SimulateOptions
from peerchain.core.tracing import TraceConfig
from peerchain.execution import calls, tracing
from peerchain.execution.calls import GasEstimate
from peerchain.execution.convert import header_from_evm
from peerchain.execution.session import EngineSession, evm_header_like, missing_is_fault
from peerchain.execution.simulate import simulate_blocks
from peerchain.execution.tracing.console import ConsoleLines
from peerchain.execution.tracing.console import sink_to as console_sink


class StateQueries(EngineSession):
    """Calls, gas estimates, access lists, traces and simulations on a block's state."""

    @missing_is_fault
    def call(
        self,
        request: CallRequest,
        header: Header,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
        gas_cap: int | None = None,
        console: ConsoleLines | None = None,
    ) -> bytes:
        """Output of `request` run on `header`'s state, in `header`'s block context.

        `header` may be one that is not stored (a pending block). The request runs with
        its own gas or, without one, the block's gas limit; never with more than
        `gas_cap` (geth's RPC gas cap). Its console.log lines go to `console`. Raises
        ExecutionReverted (message and revert data) or ExecutionFailed."""
        state, request = self._call_state(
            request, header, state_overrides, block_overrides, gas_cap, console
        )
        with console_sink(console):
            return calls.call(state, self._vm.get_transaction_builder(), request, _gas(request))

    @missing_is_fault
    def estimate_gas(
        self,
        request: CallRequest,
        header: Header,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
        gas_cap: int | None = None,
        console: ConsoleLines | None = None,
    ) -> GasEstimate:
        """A gas limit with which `request` succeeds on `header`'s state (see
        `calls.estimate_gas`), searched below the gas `call` would give it, and at least
        its calldata floor from Prague on. The console.log lines of its run with all that
        gas go to `console`.

        Raises ExecutionReverted or ExecutionFailed if it fails with all that gas."""
        floor = calls.calldata_floor(request.data) if self._genesis.fork == "Prague" else 0
        state, request = self._call_state(
            request, header, state_overrides, block_overrides, gas_cap, console
        )
        builder = self._vm.get_transaction_builder()
        with console_sink(console):
            return calls.estimate_gas(state, builder, request, _gas(request), floor, console)

    def create_access_list(
        self, request: CallRequest, header: Header, gas_cap: int | None = None
    ) -> tuple[tuple[tuple[bytes, tuple[int, ...]], ...], int, str | None]:
        """Access list of `request` on `header`'s state, the gas used with it and the
        error if it fails (see `calls.create_access_list`), with the gas `call` would
        give it."""
        state, request = self._call_state(request, header, (), None, gas_cap)
        builder = self._vm.get_transaction_builder()
        return calls.create_access_list(state, builder, request, _gas(request))

    # --- tracing ---------------------------------------------------------------
    def trace_block(
        self, block_hash: bytes, config: TraceConfig, only: int | None = None
    ) -> list[tuple[bytes, Any]]:
        """(tx hash, trace) for a stored block's transactions, or for the one at `only`.

        Raises InvalidBlock for an unknown block, TraceFailed for genesis."""
        chain, _ = self._open()
        evm_block = chain.get_block_by_header(self._evm_header(chain.chaindb, block_hash))
        return tracing.trace_block(
            self._vm,
            chain.chaindb,
            self._chain_context,
            chain.consensus_context,
            evm_block,
            config,
            only,
        )

    def trace_call(
        self,
        request: CallRequest,
        header: Header,
        config: TraceConfig,
        state_overrides: StateOverrides = (),
        block_overrides: BlockOverrides | None = None,
        gas_cap: int | None = None,
        console: ConsoleLines | None = None,
    ) -> Any:
        """Trace `request` run on `header`'s state (with the overrides, the gas and the
        console, as in `call`). Raises ExecutionFailed if it cannot run."""
        state, request = self._call_state(
            request, header, state_overrides, block_overrides, gas_cap, console
        )
        builder = self._vm.get_transaction_builder()
        with console_sink(console):
            return tracing.trace_call(self._vm, state, builder, request, _gas(request), config)

    @missing_is_fault
    def simulate(
        self,
        plan: Sequence[PlannedBlock],
        options: SimulateOptions,
        header: Header,
        gas_cap: int,
        console: ConsoleLines | None = None,
    ) -> tuple[SimulatedBlock, ...]:
        """eth_simulateV1: `plan` run on `header`'s state (see `simulate`), all its calls
        within `gas_cap` together, their console.log lines going to `console`. Raises
        SimulateError."""
        chain, _ = self._open()
        vm = self._call_vm(console)
        base = self._evm_header_of(chain, header)
        with console_sink(console):
            return simulate_blocks(
                vm,
                chain.chaindb,
                self._chain_context,
                chain.consensus_context,
                base,
                plan,
                options,
                gas_cap,
            )

    def _call_vm(self, console: ConsoleLines | None) -> Any:
        """The VM class a query runs on: one that prints console.log texts if it has
        `console` to print them into."""
        return self._vm if console is None else self._console_call_vm

    def _evm_header_of(self, chain: Chain, header: Header) -> BlockHeaderAPI:
        """py-evm's header of `header`, also of one that is not stored (a pending block,
        a dev node's edited head state)."""
        try:
            evm_header = chain.chaindb.get_block_header_by_hash(Hash32(header.hash))
        except HeaderNotFound:
            evm_header = evm_header_like(chain.get_canonical_head(), header)
        if evm_header.state_root != header.state_root:
            evm_header = evm_header.copy(state_root=header.state_root)
        return evm_header

    def _call_state(
        self,
        request: CallRequest,
        header: Header,
        state_overrides: StateOverrides,
        block_overrides: BlockOverrides | None,
        gas_cap: int | None,
        console: ConsoleLines | None = None,
    ) -> tuple[StateAPI, CallRequest]:
        """The state to run `request` on (its console.log lines going to `console`), and
        `request` with the gas it runs with."""
        chain, _ = self._open()
        evm_header = self._evm_header_of(chain, header)
        state = calls.call_state(
            self._call_vm(console),
            chain.chaindb,
            evm_header,
            self._chain_context,
            request,
            state_overrides,
            block_overrides,
        )
        gas = evm_header.gas_limit
        if block_overrides is not None and block_overrides.gas_limit is not None:
            gas = block_overrides.gas_limit
        if request.gas is not None:
            gas = request.gas
        return state, replace(request, gas=gas if gas_cap is None else min(gas, gas_cap))

    def pending_header(
        self, parent: Header, *, timestamp: int, coinbase: bytes, prev_randao: bytes
    ) -> Header:
        """The header the next block on `parent` would start with (no transactions),
        for calls and reads of the `pending` block."""
        chain, _ = self._open()
        evm_parent = self._evm_header(chain.chaindb, parent.hash)
        header = self._vm.create_header_from_parent(
            evm_parent,
            coinbase=coinbase,
            timestamp=max(timestamp, parent.timestamp + 1),
            mix_hash=prev_randao,
            gas_limit=evm_parent.gas_limit,
            parent_beacon_block_root=ZERO_HASH,
            difficulty=0,
        )
        return header_from_evm(header.copy(state_root=parent.state_root))


def _gas(request: CallRequest) -> int:
    assert request.gas is not None, "set by _call_state"
    return request.gas
