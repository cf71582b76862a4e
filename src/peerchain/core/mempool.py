"""The transaction pool: what waits to go into a block.

Theory of operation. Transactions are kept per sender, keyed by nonce. The caller
passes the sender's account state (nonce, balance) with every `add` and a state
lookup with every `on_new_block`; the pool remembers the last nonce it was told
per sender. A sender's transactions whose nonces run without a gap from that
nonce are *pending*; the rest wait in *queued* until the gap is filled.

A pending transaction is *executable* when its fee cap covers the base fee;
`reap` returns executable transactions in block order (each sender's in nonce
order, senders interleaved by effective tip, highest first, ties by arrival).
One whose fee cap is below the base fee stays pending, and the sender's later
nonces wait behind it, until the base fee falls.

Bounds: `max_per_sender` and `max_size`. A full sender makes room by dropping
its highest nonce if the newcomer has a lower one. A full pool drops the
cheapest (by effective tip at the current base fee) of the senders' highest-nonce
transactions, so eviction never opens a nonce gap; a newcomer not paying more
than that is refused with TxPoolFull.

The pool is pure: no I/O, no clock. It holds already decoded transactions whose
senders were recovered by `decode_transaction`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from peerchain.core.errors import (
    AlreadyKnown,
    FeeTooLow,
    GasLimitExceeded,
    InsufficientFunds,
    InvalidTransaction,
    NonceTooLow,
    OversizedTransaction,
    ReplacementUnderpriced,
    TxPoolFull,
)
from peerchain.core.transactions import TX_GAS, Transaction, validate_transaction

MAX_TX_SIZE = 128 * 1024


class AccountLimitExceeded(InvalidTransaction):
    """The sender already has the maximum number of transactions in the pool."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"account limit exceeded: {limit} transactions per sender")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class AccountState:
    """What the pool needs to know about a sender's account."""

    nonce: int
    balance: int


@dataclass(frozen=True, slots=True)
class MempoolConfig:
    """Pool limits and acceptance rules.

    `min_gas_price` is the lowest fee cap (gas price for legacy) accepted at all;
    `calldata_floor` must match the execution fork (True for Prague).
    """

    max_size: int = 4096
    max_per_sender: int = 64
    min_gas_price: int = 0
    price_bump_percent: int = 10
    max_tx_size: int = MAX_TX_SIZE
    calldata_floor: bool = True


@dataclass(frozen=True, slots=True)
class AddResult:
    """Outcome of an accepted `add`.

    `pending` says whether the transaction's nonce joins the sender's gap-free run
    (it may still wait for the base fee); `promoted` are queued transactions the
    new one made pending by filling a gap; `replaced` is the transaction with the
    same sender and nonce it displaced; `dropped` are others that left the pool
    (evicted to make room, or stale because the account nonce moved past them).
    """

    tx: Transaction
    pending: bool
    promoted: tuple[Transaction, ...] = ()
    replaced: Transaction | None = None
    dropped: tuple[Transaction, ...] = ()


class PoolContent(NamedTuple):
    """Pool snapshot, split as in `txpool_content`: per sender, in nonce order."""

    pending: dict[bytes, tuple[Transaction, ...]]
    queued: dict[bytes, tuple[Transaction, ...]]


def _hex(address: bytes) -> str:
    return "0x" + address.hex()


class Mempool:
    """Pending and queued transactions per sender, bounded, replace-by-fee."""

    def __init__(self, chain_id: int, config: MempoolConfig | None = None) -> None:
        self.chain_id = chain_id
        self.config = config or MempoolConfig()
        self._by_hash: dict[bytes, Transaction] = {}
        self._by_sender: dict[bytes, dict[int, Transaction]] = {}
        self._nonce: dict[bytes, int] = {}
        self._arrival: dict[bytes, int] = {}
        self._next_arrival = 0

    # ------------------------------------------------------------------ queries

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash

    def by_hash(self) -> dict[bytes, Transaction]:
        """The pooled transactions by hash (a copy, which another thread may read)."""
        return dict(self._by_hash)

    def get(self, tx_hash: bytes) -> Transaction | None:
        """The pooled transaction with this hash, if any."""
        return self._by_hash.get(tx_hash)

    def pending_nonce(self, sender: bytes, state_nonce: int) -> int:
        """Next nonce for `sender` after its gap-free run from `state_nonce`
        (what `eth_getTransactionCount(addr, "pending")` answers)."""
        txs = self._by_sender.get(sender, {})
        nonce = state_nonce
        while nonce in txs:
            nonce += 1
        return nonce

    def content(self) -> PoolContent:
        """All transactions, pending and queued, by sender then nonce."""
        content = PoolContent(pending={}, queued={})
        for sender, txs in self._by_sender.items():
            run_end = self.pending_nonce(sender, self._nonce[sender])
            ordered = [txs[n] for n in sorted(txs)]
            split = next((i for i, t in enumerate(ordered) if t.nonce >= run_end), len(ordered))
            if split:
                content.pending[sender] = tuple(ordered[:split])
            if split < len(ordered):
                content.queued[sender] = tuple(ordered[split:])
        return content

    # ------------------------------------------------------------------ add

    def add(
        self, tx: Transaction, account: AccountState, base_fee: int, block_gas_limit: int
    ) -> AddResult:
        """Admit `tx` given its sender's current `account` state.

        Raises AlreadyKnown, OversizedTransaction, the static errors of
        `validate_transaction` (WrongChainId, IntrinsicGasTooLow, ...),
        GasLimitExceeded, FeeTooLow (below `min_gas_price`), NonceTooLow,
        InsufficientFunds, ReplacementUnderpriced, AccountLimitExceeded, TxPoolFull.
        A fee cap below `base_fee` is accepted; the transaction waits.
        """
        cfg = self.config
        if tx.hash in self._by_hash:
            raise AlreadyKnown()
        if len(tx.raw) > cfg.max_tx_size:
            raise OversizedTransaction(len(tx.raw), cfg.max_tx_size)
        validate_transaction(tx, chain_id=self.chain_id, calldata_floor=cfg.calldata_floor)
        if tx.gas_limit > block_gas_limit:
            raise GasLimitExceeded(tx.gas_limit, block_gas_limit)
        if tx.max_fee_per_gas < cfg.min_gas_price:
            raise FeeTooLow(
                f"transaction underpriced: gas fee cap {tx.max_fee_per_gas}, "
                f"minimum needed {cfg.min_gas_price}"
            )
        if tx.nonce < account.nonce:
            raise NonceTooLow(_hex(tx.sender), tx.nonce, account.nonce)
        if account.balance < tx.cost:
            raise InsufficientFunds(_hex(tx.sender), account.balance, tx.cost)

        txs = self._by_sender.get(tx.sender, {})
        old = txs.get(tx.nonce)
        if old is not None:
            self._check_bump(old, tx)
        stale = tuple(txs[n] for n in sorted(txs) if n < account.nonce)
        evicted = () if old is not None else self._choose_victims(tx, base_fee, len(stale))
        was_pending_end = self.pending_nonce(tx.sender, account.nonce)

        for gone in (*stale, *evicted, *([old] if old is not None else [])):
            self._delete(gone)
        self._insert(tx, account.nonce)
        run_end = self.pending_nonce(tx.sender, account.nonce)
        sender_txs = self._by_sender[tx.sender]
        promoted = tuple(sender_txs[n] for n in range(max(was_pending_end, tx.nonce + 1), run_end))
        return AddResult(tx, tx.nonce < run_end, promoted, old, stale + evicted)

    def _check_bump(self, old: Transaction, new: Transaction) -> None:
        factor = 100 + self.config.price_bump_percent
        if (
            new.max_fee_per_gas <= old.max_fee_per_gas
            or new.max_priority_fee_per_gas <= old.max_priority_fee_per_gas
            or new.max_fee_per_gas < old.max_fee_per_gas * factor // 100
            or new.max_priority_fee_per_gas < old.max_priority_fee_per_gas * factor // 100
        ):
            raise ReplacementUnderpriced()

    def _choose_victims(
        self, tx: Transaction, base_fee: int, stale: int
    ) -> tuple[Transaction, ...]:
        """What must go to admit a new (non-replacing) `tx`, given `stale` of its
        sender's transactions are about to be dropped anyway; raises if nothing may."""
        cfg = self.config
        txs = self._by_sender.get(tx.sender, {})
        if len(txs) - stale >= cfg.max_per_sender:
            highest = max(txs)
            if tx.nonce > highest:
                raise AccountLimitExceeded(cfg.max_per_sender)
            return (txs[highest],)
        if len(self._by_hash) - stale < cfg.max_size:
            return ()
        victim = min(
            (sender_txs[max(sender_txs)] for sender_txs in self._by_sender.values()),
            key=lambda t: (t.effective_tip(base_fee), -self._arrival[t.hash]),
        )
        if tx.effective_tip(base_fee) <= victim.effective_tip(base_fee):
            raise TxPoolFull()
        return (victim,)

    # ------------------------------------------------------------------ blocks

    def reap(self, max_gas: int, base_fee: int, max_txs: int | None = None) -> list[Transaction]:
        """Executable transactions for a block of at most `max_gas` gas.

        Each sender's in nonce order from its known account nonce, stopping at a
        fee cap below `base_fee`; across senders highest effective tip first,
        ties by arrival. A sender whose next transaction does not fit in the gas
        left is skipped from then on. The pool is not changed.
        """
        heap: list[tuple[int, int, int, bytes]] = []

        def push(sender: bytes, nonce: int) -> None:
            tx = self._by_sender[sender].get(nonce)
            if tx is not None and tx.max_fee_per_gas >= base_fee:
                heapq.heappush(
                    heap, (-tx.effective_tip(base_fee), self._arrival[tx.hash], nonce, sender)
                )

        for sender in self._by_sender:
            push(sender, self._nonce[sender])
        chosen: list[Transaction] = []
        gas_left = max_gas
        while heap and gas_left >= TX_GAS and (max_txs is None or len(chosen) < max_txs):
            _, _, nonce, sender = heapq.heappop(heap)
            tx = self._by_sender[sender][nonce]
            if tx.gas_limit > gas_left:
                continue
            chosen.append(tx)
            gas_left -= tx.gas_limit
            push(sender, nonce + 1)
        return chosen

    def has_executable(self, base_fee: int) -> bool:
        """Whether `reap` at `base_fee` would return anything (gas aside)."""
        for sender, txs in self._by_sender.items():
            tx = txs.get(self._nonce[sender])
            if tx is not None and tx.max_fee_per_gas >= base_fee:
                return True
        return False

    def on_new_block(
        self, included: Iterable[bytes], state: Callable[[bytes], AccountState]
    ) -> tuple[Transaction, ...]:
        """Drop the block's transactions, then re-check every sender against
        `state` (account after the block): transactions with a nonce below the
        account nonce or costing more than the balance go. Later nonces of a
        sender that lost one become queued. Returns what was dropped besides
        the included transactions.
        """
        self.remove(included)
        dropped: list[Transaction] = []
        for sender, txs in list(self._by_sender.items()):
            account = state(sender)
            self._nonce[sender] = account.nonce
            for nonce in sorted(txs):
                tx = txs[nonce]
                if nonce < account.nonce or tx.cost > account.balance:
                    self._delete(tx)
                    dropped.append(tx)
        return tuple(dropped)

    def remove(self, hashes: Iterable[bytes]) -> tuple[Transaction, ...]:
        """Remove these transactions if pooled (e.g. included or failed in a
        block); a sender's later nonces become queued. Returns those removed."""
        removed = []
        for tx_hash in hashes:
            tx = self._by_hash.get(tx_hash)
            if tx is not None:
                self._delete(tx)
                removed.append(tx)
        return tuple(removed)

    # ------------------------------------------------------------------ bookkeeping

    def _insert(self, tx: Transaction, account_nonce: int) -> None:
        self._by_hash[tx.hash] = tx
        self._by_sender.setdefault(tx.sender, {})[tx.nonce] = tx
        self._nonce[tx.sender] = account_nonce
        self._arrival[tx.hash] = self._next_arrival
        self._next_arrival += 1

    def _delete(self, tx: Transaction) -> None:
        del self._by_hash[tx.hash]
        del self._arrival[tx.hash]
        txs = self._by_sender[tx.sender]
        del txs[tx.nonce]
        if not txs:
            del self._by_sender[tx.sender]
            del self._nonce[tx.sender]
