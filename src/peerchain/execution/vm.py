"""The py-evm machines PeerChain runs: one fork from block 0 (Prague by default, or
Cancun), chain id enforced, state kept by `accountdb.AccountDB`.

A fork's `vm` checks headers and gives its state, interpreter and rules to
`transition.apply_block`, which builds and imports blocks (a builder leaves out a
transaction that is invalid at its turn). Its `dev_vm` is the same machine for dev
nodes, whose blocks take the gas limit and base fee the developer set. Both run the
fork's computation with cheaper per-opcode bookkeeping (`computation.py`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import ckzg
from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth.chains.base import Chain
from eth.precompiles import point_evaluation
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.state import PragueState
from eth_utils.exceptions import ValidationError

from peerchain.execution.accountdb import AccountDB
from peerchain.execution.computation import lean_computation, state_logger


@functools.cache
def _trusted_setup(path: str, precompute: int) -> object:
    return ckzg.load_trusted_setup(path, precompute)


# py-evm loads the KZG trusted setup on every call of the point-evaluation
# precompile (seconds each); the precompile looks the loader up in its module,
# so pointing that name at a cached loader makes every call after the first cheap.
setattr(point_evaluation, "load_trusted_setup", _trusted_setup)  # noqa: B010


def validate_chain_id(transaction: SignedTransactionAPI, chain_id: int) -> None:
    """Reject a transaction signed for another chain (unprotected legacy ones pass).

    py-evm does not check this itself. Raises ValidationError."""
    if transaction.chain_id is not None and transaction.chain_id != chain_id:
        raise ValidationError(
            f"invalid chain id for signer: have {transaction.chain_id} want {chain_id}"
        )


class _ChainIdCheck:
    """Adds the chain-id check to a fork's per-transaction header validation."""

    chain_context: Any

    def validate_transaction_against_header(
        self, base_header: BlockHeaderAPI, transaction: SignedTransactionAPI
    ) -> None:
        validate_chain_id(transaction, self.chain_context.chain_id)
        super().validate_transaction_against_header(base_header, transaction)  # type: ignore[misc]


class _DevHeaderRules:
    """Dev nodes set a block's gas limit and base fee as the developer asks
    (evm_setBlockGasLimit, hardhat_setNextBlockBaseFeePerGas): no parent-based rule."""

    @classmethod
    def validate_gas(cls, header: BlockHeaderAPI, parent_header: BlockHeaderAPI) -> None:
        return None


class PragueChainVM(_ChainIdCheck, PragueVM):
    """Prague rules plus the chain-id check, on PeerChain's state layer."""

    _state_class = PragueState.configure(
        __name__="PeerChainPragueState",
        account_db_class=AccountDB,
        computation_class=lean_computation(PragueState.computation_class),
        logger=state_logger("PeerChainPragueState"),
    )


class CancunChainVM(_ChainIdCheck, CancunVM):
    """Cancun rules plus the chain-id check, on PeerChain's state layer."""

    _state_class = CancunState.configure(
        __name__="PeerChainCancunState",
        account_db_class=AccountDB,
        computation_class=lean_computation(CancunState.computation_class),
        logger=state_logger("PeerChainCancunState"),
    )


class PragueDevVM(_DevHeaderRules, PragueChainVM):
    """PragueChainVM for dev nodes' blocks: gas limit and base fee as set."""


class CancunDevVM(_DevHeaderRules, CancunChainVM):
    """CancunChainVM for dev nodes' blocks: gas limit and base fee as set."""


@dataclass(frozen=True, slots=True)
class Machine:
    """One fork's VM, and its twin for dev nodes' blocks that takes gas limit and base
    fee as given."""

    fork: str
    vm: type[Any]
    dev_vm: type[Any]

    def chain_class(self, chain_id: int) -> type[Chain]:
        """A py-evm Chain class for `chain_id` that runs this fork from genesis."""
        return Chain.configure(
            __name__=f"PeerChain{self.fork}",
            vm_configuration=((0, self.vm),),
            chain_id=chain_id,
        )


# The forks the execution layer runs, by the names geth configs and test fixtures use.
FORKS: dict[str, Machine] = {
    "Cancun": Machine("Cancun", CancunChainVM, CancunDevVM),
    "Prague": Machine("Prague", PragueChainVM, PragueDevVM),
}
