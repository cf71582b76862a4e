"""FakeNodeView against a real DevNode: the `NodeView` behaviour the RPC tests rely on.

The handler, filter, schema and server tests run on FakeNodeView, for speed and for
answers no node gives on demand (a node bug, an orphan block, a refused nonce). Every
behaviour of the protocol those tests lean on is checked here on both the fake and a
real dev node (py-evm, LMDB), so the fake cannot drift from what a node does; mypy
checks that the fake implements `NodeView` (`make typecheck`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from peerchain.core.blocks import Block, TxLocation
from peerchain.core.crypto import keccak256, recover_address_bytes
from peerchain.core.errors import AlreadyKnown, DecodeError, PeerChainError
from peerchain.core.genesis import GenesisAccount, dev_genesis
from peerchain.core.simulate import BlockStateCalls, SimulateOptions, plan_blocks
from peerchain.core.transactions import UnsignedTransaction, sign_transaction
from peerchain.drivers.storage import LmdbStore
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger
from peerchain.node.view import (
    CallRequest,
    ExecutionFailed,
    ExecutionReverted,
    LogFilter,
    NodeView,
    UnknownBlock,
)

from .fake_view import (
    CHAIN_ID,
    DEV_ACCOUNT,
    DEV_KEY,
    FAILER,
    OTHER,
    REVERT_DATA,
    REVERTER,
    TOKEN,
    TRANSFER_TOPIC,
    FakeNodeView,
)

T = TypeVar("T")


def run(query: Coroutine[Any, Any, T]) -> T:
    """Answer one of the view's heavy queries (coroutines) outside an event loop."""
    return asyncio.run(query)


UNKNOWN_HASH = b"\x11" * 32


def _push32(word: bytes) -> bytes:
    return b"\x7f" + word.rjust(32, b"\x00")


# Contracts at the fake's addresses, so that the real node answers as the fake claims to.
TOKEN_CODE = (  # log Transfer(caller, OTHER, 1000); stop
    bytes.fromhex("6103e8600052") + b"\x73" + OTHER + b"\x33" + _push32(TRANSFER_TOPIC)
    + bytes.fromhex("60206000a300")
)  # fmt: skip
REVERTER_CODE = (  # revert with REVERT_DATA
    b"".join(_push32(REVERT_DATA[i : i + 32].ljust(32, b"\x00")) + bytes([0x60, i, 0x52])
             for i in range(0, len(REVERT_DATA), 32))
    + bytes([0x60, len(REVERT_DATA), 0x60, 0x00, 0xFD])
)  # fmt: skip
FAILER_CODE = b"\xfe"  # the INVALID opcode


class _StillClock:
    def now(self) -> float:
        return 1_700_000_000.0


@dataclass
class World:
    """A view with two blocks of transactions on genesis, and how to mine on it."""

    view: NodeView
    mine: Callable[[], None]


def _signed(nonce: int, to: bytes | None, data: bytes = b"") -> bytes:
    unsigned = UnsignedTransaction(
        type=2, chain_id=CHAIN_ID, nonce=nonce, gas_limit=100_000, max_fee_per_gas=10**11,
        max_priority_fee_per_gas=10**9, to=to, value=5, data=data,
    )  # fmt: skip
    return sign_transaction(unsigned, DEV_KEY).raw


def _dev_node(datadir: Path) -> Iterator[World]:
    genesis = dev_genesis(CHAIN_ID, [DEV_ACCOUNT], 10**21)
    code = {TOKEN: TOKEN_CODE, REVERTER: REVERTER_CODE, FAILER: FAILER_CODE}
    alloc = dict(genesis.alloc) | {a: GenesisAccount(code=c) for a, c in code.items()}
    store = LmdbStore(datadir)
    node = DevNode(
        Ledger(store, replace(genesis, alloc=tuple(sorted(alloc.items())))),
        _StillClock(),
        [DEV_KEY],
        automine=False,
    )
    # as the fake's: a contract creation and a call that logs; then two transfers
    for block in ([(None, b"\x60\x00"), (TOKEN, b"\x02")], [(OTHER, b""), (OTHER, b"")]):
        for to, data in block:
            node.send_raw_transaction(_signed(node.get_pending_nonce(DEV_ACCOUNT), to, data))
        node.mine_block()
    try:
        yield World(node, node.mine_block)
    finally:
        store.close()


@pytest.fixture(params=["fake", "devnode"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "fake":
        fake = FakeNodeView()
        yield World(fake, fake.mine_pending)
    else:
        yield from _dev_node(tmp_path / "chain")


def _blocks(view: NodeView) -> list[Block]:
    blocks = [view.get_block_by_number(n) for n in range(view.block_number() + 1)]
    assert None not in blocks
    return blocks  # type: ignore[return-value]


def test_block_selectors_resolve_or_raise_unknown_block(world: World) -> None:
    view = world.view
    head = view.block_number()
    assert head == 2
    assert view.resolve_block("latest").number == view.resolve_block(head).number == head
    assert view.resolve_block("earliest").number == 0
    genesis = view.get_block_by_number(0)
    assert genesis is not None and view.resolve_block(genesis.hash) == genesis.header
    for missing in (head + 1, UNKNOWN_HASH):
        with pytest.raises(UnknownBlock):
            view.resolve_block(missing)


def test_blocks_link_by_number_and_hash(world: World) -> None:
    view = world.view
    blocks = _blocks(view)
    for number, block in enumerate(blocks):
        assert block.number == number and block.hash == block.header.hash
        assert view.get_block(block.hash) == block
        if number:
            assert block.header.parent_hash == blocks[number - 1].hash
    assert view.get_block_by_number(len(blocks)) is None and view.get_block(UNKNOWN_HASH) is None


def test_mined_transactions_have_locations_and_receipts(world: World) -> None:
    view = world.view
    blocks = _blocks(view)
    assert [len(b.transactions) for b in blocks] == [0, 2, 2]
    for block in blocks:
        receipts = []
        for index, tx in enumerate(block.transactions):
            assert tx.hash == keccak256(tx.raw)
            assert view.get_transaction(tx.hash) == (
                tx,
                TxLocation(block.hash, block.number, index),
            )
            receipt = view.get_receipt(tx.hash)
            assert receipt is not None
            assert (receipt.transaction_hash, receipt.transaction_index) == (tx.hash, index)
            assert (receipt.block_hash, receipt.block_number) == (block.hash, block.number)
            assert (receipt.sender, receipt.to, receipt.type) == (tx.sender, tx.to, tx.type)
            for log in receipt.logs:
                assert (log.block_hash, log.transaction_hash) == (block.hash, tx.hash)
            receipts.append(receipt)
        assert view.get_block_receipts(block.hash) == receipts
        gas = [r.cumulative_gas_used for r in receipts]
        assert gas == sorted(gas) and (not gas or gas[-1] == block.header.gas_used)
    assert view.get_transaction(UNKNOWN_HASH) is None and view.get_receipt(UNKNOWN_HASH) is None
    assert view.get_block_receipts(UNKNOWN_HASH) == []


def test_logs_are_the_receipts_logs_filtered(world: World) -> None:
    view = world.view
    blocks = _blocks(view)
    every = [
        log for b in blocks for r in view.get_block_receipts(b.hash) for log in r.logs
    ]  # fmt: skip
    assert [(log.address, log.transaction_index, log.log_index) for log in every] == [(TOKEN, 1, 0)]
    assert every[0].topics == (TRANSFER_TOPIC, b"\x00" * 12 + DEV_ACCOUNT, b"\x00" * 12 + OTHER)
    assert run(view.get_logs(LogFilter(0, 2))) == every
    assert run(view.get_logs(LogFilter(0, 2, addresses=(TOKEN,)))) == every
    assert run(view.get_logs(LogFilter(0, 2, addresses=(OTHER,)))) == []
    assert (
        run(view.get_logs(LogFilter(0, 2, topics=(None, (b"\x00" * 12 + DEV_ACCOUNT,))))) == every
    )
    assert run(view.get_logs(LogFilter(0, 2, topics=((UNKNOWN_HASH,),)))) == []
    assert run(view.get_logs(LogFilter(2, 2))) == []
    assert run(view.get_logs(LogFilter(1, 1, block_hash=blocks[1].hash))) == every
    with pytest.raises(UnknownBlock):
        run(view.get_logs(LogFilter(1, 1, block_hash=UNKNOWN_HASH)))


def test_a_sent_transaction_is_pending_announced_then_mined(world: World) -> None:
    view = world.view
    events: dict[str, list[Any]] = {"newPendingTransactions": [], "newHeads": [], "logs": []}
    stops = [view.subscribe(kind, got.append) for kind, got in events.items()]  # type: ignore[arg-type]
    nonce = view.get_pending_nonce(DEV_ACCOUNT)
    raw = _signed(nonce, TOKEN, b"\x03")
    tx_hash = view.send_raw_transaction(raw)
    assert tx_hash == keccak256(raw)
    found = view.get_transaction(tx_hash)
    assert found is not None and found[1] is None and found[0].raw == raw
    assert view.get_pending_nonce(DEV_ACCOUNT) == nonce + 1
    assert found[0] in view.txpool().pending[DEV_ACCOUNT]
    assert view.get_receipt(tx_hash) is None
    assert events["newPendingTransactions"] == [found[0]]
    with pytest.raises(AlreadyKnown):
        view.send_raw_transaction(raw)
    world.mine()
    head = view.resolve_block("latest")
    assert head.number == 3 and events["newHeads"] == [head]
    assert view.get_transaction(tx_hash) == (found[0], TxLocation(head.hash, 3, 0))
    [logs] = events["logs"]
    assert [log.transaction_hash for log in logs] == [tx_hash]
    for stop in stops:
        stop()
    view.send_raw_transaction(_signed(nonce + 1, OTHER))
    assert len(events["newPendingTransactions"]) == 1


@pytest.mark.parametrize(
    ("raw", "error"), [(b"", DecodeError), (b"\x80", DecodeError), (b"\x05\xc0", PeerChainError)]
)
def test_malformed_raw_transactions_are_refused(
    world: World, raw: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        world.view.send_raw_transaction(raw)
    assert world.view.txpool().pending == {}


def test_calls_revert_or_fail_with_the_matching_error(world: World) -> None:
    view = world.view
    head = view.resolve_block("latest")
    for ask in (view.call, view.estimate_gas):
        with pytest.raises(ExecutionReverted) as reverted:
            run(ask(CallRequest(sender=DEV_ACCOUNT, to=REVERTER), head))
        assert reverted.value.data == REVERT_DATA
        with pytest.raises(ExecutionFailed):
            run(ask(CallRequest(sender=DEV_ACCOUNT, to=FAILER), head))
    assert run(view.estimate_gas(CallRequest(sender=DEV_ACCOUNT, to=OTHER), head)) == 21_000


def test_simulations_answer_one_block_per_planned_block(world: World) -> None:
    view = world.view
    head = view.resolve_block("latest")
    calls = tuple(CallRequest(sender=DEV_ACCOUNT, to=to) for to in (TOKEN, REVERTER, FAILER))
    blocks = (BlockStateCalls(calls=calls), BlockStateCalls())
    plan = plan_blocks(head.number, head.timestamp, blocks)
    first, second = run(view.simulate(plan, SimulateOptions(), head))
    assert [b.block.number for b in (first, second)] == [head.number + 1, head.number + 2]
    assert [b.block.header.timestamp for b in (first, second)] == [p.timestamp for p in plan]
    assert first.block.header.parent_hash == head.hash
    assert second.block.header.parent_hash == first.block.hash
    assert [c.status for c in first.calls] == [1, 0, 0] and second.calls == ()
    assert first.calls[1].revert == REVERT_DATA and first.calls[2].failure is not None
    assert view.resolve_block("latest") == head  # nothing was kept


@pytest.mark.parametrize("percentiles", [[], [25.0, 75.0]])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_fee_history_has_one_entry_per_block_and_one_more_base_fee(
    world: World, count: int, percentiles: list[float]
) -> None:
    history = world.view.fee_history(count, world.view.resolve_block("latest"), percentiles)
    assert history.oldest_block == 2 - count + 1
    assert len(history.base_fee_per_gas) == len(history.base_fee_per_blob_gas) == count + 1
    assert len(history.gas_used_ratio) == len(history.blob_gas_used_ratio) == count
    assert all(0 <= ratio <= 1 for ratio in history.gas_used_ratio)
    if percentiles:
        assert history.reward is not None and len(history.reward) == count
        assert all(len(row) == len(percentiles) for row in history.reward)
    else:
        assert history.reward is None


def test_proofs_answer_for_the_asked_account_and_slots(world: World) -> None:
    view = world.view
    head = view.resolve_block("latest")
    proof = run(view.get_proof(DEV_ACCOUNT, [0, 5], head))
    assert proof.address == DEV_ACCOUNT and [s.key for s in proof.storage_proof] == [0, 5]
    assert proof.balance == view.get_balance(DEV_ACCOUNT, head)
    assert proof.nonce == view.get_nonce(DEV_ACCOUNT, head) and proof.account_proof
    assert proof.code_hash == keccak256(view.get_code(DEV_ACCOUNT, head))


def test_dev_accounts_sign_and_snapshots_are_checked(world: World) -> None:
    view = world.view
    assert view.accounts() == [DEV_ACCOUNT]
    message = b"hello"
    signature = view.sign(DEV_ACCOUNT, message)
    prefix = b"\x19Ethereum Signed Message:\n" + str(len(message)).encode()
    assert len(signature) == 65 and signature[64] in (27, 28)
    recovered = recover_address_bytes(
        keccak256(prefix + message), signature[:64] + bytes([signature[64] - 27])
    )
    assert recovered == DEV_ACCOUNT
    with pytest.raises(PeerChainError):
        view.sign(OTHER, message)
    assert view.revert(12345) is False
    assert view.syncing() is None and view.peer_count() == 0 and view.chain_id == CHAIN_ID
