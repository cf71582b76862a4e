"""The py-evm machine PeerChain runs: one fork (Prague) from block 0, chain id enforced.

`ChainVM` imports blocks. `BuildingVM` is the same machine with one difference:
a transaction that is invalid at its turn (nonce gap, insufficient funds, gas beyond
what is left in the block, wrong chain id) is skipped instead of failing the block.
Both go through py-evm's `VM.import_block`, so a built block runs the same
pre- and post-block hooks (beacon roots, block hash history, requests) as an
imported one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import ckzg
from eth.abc import BlockHeaderAPI, ComputationAPI, ReceiptAPI, SignedTransactionAPI
from eth.chains.base import Chain
from eth.precompiles import point_evaluation
from eth.vm.forks.prague import PragueVM
from eth_utils.exceptions import ValidationError

FORK = "prague"


@functools.cache
def _trusted_setup(path: str, precompute: int) -> object:
    return ckzg.load_trusted_setup(path, precompute)


# py-evm loads the KZG trusted setup on every call of the point-evaluation
# precompile (seconds each); the precompile looks the loader up in its module,
# so pointing that name at a cached loader makes every call after the first cheap.
setattr(point_evaluation, "load_trusted_setup", _trusted_setup)  # noqa: B010


class ChainVM(PragueVM):
    """Prague rules plus the chain-id check py-evm leaves to the client."""

    def validate_transaction_against_header(
        self, base_header: BlockHeaderAPI, transaction: SignedTransactionAPI
    ) -> None:
        chain_id = transaction.chain_id
        if chain_id is not None and chain_id != self.chain_context.chain_id:
            raise ValidationError(
                f"invalid chain id for signer: have {chain_id} want {self.chain_context.chain_id}"
            )
        super().validate_transaction_against_header(base_header, transaction)


class BuildingVM(ChainVM):
    """A ChainVM that leaves out the transactions it cannot apply, with the reason.

    Each transaction is checked exactly as py-evm checks it before touching state
    (against the header, then its own fields, then the sender's account); one that
    fails is left out and the state is unchanged.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.included: tuple[SignedTransactionAPI, ...] = ()
        self.skipped: list[tuple[SignedTransactionAPI, str]] = []

    def apply_all_transactions(
        self, transactions: Sequence[SignedTransactionAPI], base_header: BlockHeaderAPI
    ) -> tuple[BlockHeaderAPI, tuple[ReceiptAPI, ...], tuple[ComputationAPI, ...]]:
        header = base_header
        included: list[SignedTransactionAPI] = []
        receipts: list[ReceiptAPI] = []
        computations: list[ComputationAPI] = []
        for tx in transactions:
            try:
                self.validate_transaction_against_header(header, tx)
                tx.validate()
                self.state.validate_transaction(tx)
            except ValidationError as exc:
                self.skipped.append((tx, str(exc)))
                continue
            header, (receipt,), (computation,) = super().apply_all_transactions([tx], header)
            included.append(tx)
            receipts.append(receipt)
            computations.append(computation)
        self.included = tuple(included)
        return header, tuple(receipts), tuple(computations)

    def set_block_transactions_and_withdrawals(
        self,
        base_block: Any,
        new_header: BlockHeaderAPI,
        transactions: Sequence[SignedTransactionAPI],
        receipts: Sequence[ReceiptAPI],
        withdrawals: Any = None,
    ) -> Any:
        return super().set_block_transactions_and_withdrawals(
            base_block, new_header, self.included, receipts, withdrawals=withdrawals
        )


def chain_class(chain_id: int) -> type[Chain]:
    """A py-evm Chain class for `chain_id` that runs ChainVM from genesis."""
    return Chain.configure(
        __name__="PeerChain",
        vm_configuration=((0, ChainVM),),
        chain_id=chain_id,
    )
