"""Double-sign evidence goes on chain: a validator that sees evidence sends it to the
governance contract in an ordinary transaction signed with its validator key, so that
it is gossiped with the transactions, included in a block, kept by every node's chain
and acted on (the offender leaves the set two heights after the block, unless the
genesis switched jailing off; `core.governance`).

Each offence (offender, height) is reported once by this node; the contract punishes
it once whoever reports it first.
"""

from __future__ import annotations

from collections import OrderedDict

from peerchain.core.consensus.evidence import EvidenceRecord
from peerchain.core.crypto import private_key_to_address
from peerchain.core.governance import GOVERNANCE_ADDRESS, evidence_call
from peerchain.core.transactions import (
    DYNAMIC_FEE_TX,
    Transaction,
    UnsignedTransaction,
    sign_transaction,
)

# Gas of one report: two signature recoveries and a set update fit with room to spare.
REPORT_GAS = 1_000_000
REMEMBERED_OFFENCES = 1024


class EvidenceReporter:
    """Turns evidence records (`core.consensus.evidence`, kept by `node.evidence`) into
    report transactions from one validator key."""

    def __init__(self, private_key: bytes, chain_id: int) -> None:
        self._key = private_key
        self.address = private_key_to_address(private_key)
        self.chain_id = chain_id
        self._reported: OrderedDict[tuple[bytes, int], None] = OrderedDict()

    def report(self, record: EvidenceRecord, nonce: int, base_fee: int) -> Transaction | None:
        """The signed report of `record` (None if this offence was reported already)."""
        offence = (record.validator, record.height)
        if offence in self._reported:
            return None
        self._reported[offence] = None
        while len(self._reported) > REMEMBERED_OFFENCES:
            self._reported.popitem(last=False)
        tip = 1
        unsigned = UnsignedTransaction(
            type=DYNAMIC_FEE_TX,
            chain_id=self.chain_id,
            nonce=nonce,
            gas_limit=REPORT_GAS,
            max_fee_per_gas=2 * base_fee + tip,
            max_priority_fee_per_gas=tip,
            to=GOVERNANCE_ADDRESS,
            data=evidence_call(record),
        )
        return sign_transaction(unsigned, self._key)
