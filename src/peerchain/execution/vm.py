"""The py-evm machines PeerChain runs: one fork from block 0 (Prague by default, or
Cancun), chain id enforced, state kept by `accountdb.AccountDB`.

A fork's `vm` imports blocks. Its `building_vm` is the same machine with one
difference: a transaction that is invalid at its turn (nonce gap, insufficient funds,
gas beyond what is left in the block, wrong chain id) is skipped instead of failing
the block. Both go through py-evm's `VM.import_block`, so a built block runs the same
pre- and post-block hooks (beacon roots, block hash history, requests) as an
imported one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ckzg
from eth.abc import BlockHeaderAPI, ComputationAPI, ReceiptAPI, SignedTransactionAPI
from eth.chains.base import Chain
from eth.precompiles import point_evaluation
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.state import PragueState
from eth_utils.exceptions import ValidationError

from peerchain.execution.accountdb import AccountDB


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


class _SkipInvalid:
    """Leaves out the transactions a block cannot apply, with the reason.

    Each transaction is checked exactly as py-evm checks it before touching state
    (against the header, then its own fields, then the sender's account); one that
    fails is left out and the state is unchanged. The receipts of the included ones are
    kept (`receipts`), so that the builder need not read them back from the block.
    """

    state: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.included: tuple[SignedTransactionAPI, ...] = ()
        self.receipts: tuple[ReceiptAPI, ...] = ()
        self.skipped: list[tuple[SignedTransactionAPI, str]] = []

    def apply_all_transactions(
        self, transactions: Sequence[SignedTransactionAPI], base_header: BlockHeaderAPI
    ) -> tuple[BlockHeaderAPI, tuple[ReceiptAPI, ...], tuple[ComputationAPI, ...]]:
        parent: Any = super()
        header = base_header
        included: list[SignedTransactionAPI] = []
        receipts: list[ReceiptAPI] = []
        computations: list[ComputationAPI] = []
        for tx in transactions:
            try:
                parent.validate_transaction_against_header(header, tx)
                tx.validate()
                self.state.validate_transaction(tx)
            except ValidationError as exc:
                self.skipped.append((tx, str(exc)))
                continue
            header, (receipt,), (computation,) = parent.apply_all_transactions([tx], header)
            included.append(tx)
            receipts.append(receipt)
            computations.append(computation)
        self.included = tuple(included)
        self.receipts = tuple(receipts)
        return header, self.receipts, tuple(computations)

    def set_block_transactions_and_withdrawals(
        self,
        base_block: Any,
        new_header: BlockHeaderAPI,
        transactions: Sequence[SignedTransactionAPI],
        receipts: Sequence[ReceiptAPI],
        withdrawals: Any = None,
    ) -> Any:
        parent: Any = super()
        return parent.set_block_transactions_and_withdrawals(
            base_block, new_header, self.included, receipts, withdrawals=withdrawals
        )


class _DevHeaderRules:
    """Dev nodes set a block's gas limit and base fee as the developer asks
    (evm_setBlockGasLimit, hardhat_setNextBlockBaseFeePerGas): no parent-based rule."""

    @classmethod
    def validate_gas(cls, header: BlockHeaderAPI, parent_header: BlockHeaderAPI) -> None:
        return None


class PragueChainVM(_ChainIdCheck, PragueVM):
    """Prague rules plus the chain-id check, on PeerChain's state layer."""

    _state_class = PragueState.configure(
        __name__="PeerChainPragueState", account_db_class=AccountDB
    )


class CancunChainVM(_ChainIdCheck, CancunVM):
    """Cancun rules plus the chain-id check, on PeerChain's state layer."""

    _state_class = CancunState.configure(
        __name__="PeerChainCancunState", account_db_class=AccountDB
    )


class PragueBuildingVM(_SkipInvalid, PragueChainVM):
    """PragueChainVM that skips inapplicable transactions."""


class CancunBuildingVM(_SkipInvalid, CancunChainVM):
    """CancunChainVM that skips inapplicable transactions."""


class PragueDevBuildingVM(_DevHeaderRules, PragueBuildingVM):
    """PragueBuildingVM for dev nodes: gas limit and base fee as set."""


class CancunDevBuildingVM(_DevHeaderRules, CancunBuildingVM):
    """CancunBuildingVM for dev nodes: gas limit and base fee as set."""


@dataclass(frozen=True, slots=True)
class Machine:
    """One fork's VM for importing blocks, its twin for building them, and the dev
    nodes' builder that takes gas limit and base fee as given."""

    fork: str
    vm: type[Any]
    building_vm: type[Any]
    dev_building_vm: type[Any]

    def chain_class(self, chain_id: int) -> type[Chain]:
        """A py-evm Chain class for `chain_id` that runs this fork from genesis."""
        return Chain.configure(
            __name__=f"PeerChain{self.fork}",
            vm_configuration=((0, self.vm),),
            chain_id=chain_id,
        )


# The forks the execution layer runs, by the names geth configs and test fixtures use.
FORKS: dict[str, Machine] = {
    "Cancun": Machine("Cancun", CancunChainVM, CancunBuildingVM, CancunDevBuildingVM),
    "Prague": Machine("Prague", PragueChainVM, PragueBuildingVM, PragueDevBuildingVM),
}
