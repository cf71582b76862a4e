"""The state layer's AccountDB against py-evm's own AccountDB (the slow reference): the
same random operations, checkpoints and persists on both give the same reads and roots."""

from __future__ import annotations

from typing import Any

from eth.db.account import AccountDB as ReferenceAccountDB
from eth.db.atomic import AtomicDB
from eth_typing import Address
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from peerchain.execution.accountdb import AccountDB
from peerchain.execution.db import open_overlay
from peerchain.execution.statecache import StateCache

ADDRESSES = st.sampled_from([Address(bytes([i]) * 20) for i in (1, 2, 3, 0xAB)])
SLOTS = st.sampled_from([0, 1, 2, 2**255])
VALUES = st.sampled_from([0, 1, 7, 2**200])
CODES = st.sampled_from([b"", b"\x60\x00", b"\x60\x01\x60\x02" * 20])


class AccountDBMachine(RuleBasedStateMachine):
    """Writes, deletes, warm marks, nested checkpoints (discarded or committed), the end of
    transactions (lock_changes), state roots and persists, on both databases."""

    def __init__(self) -> None:
        super().__init__()
        self.reference_db = AtomicDB()
        self.reference = ReferenceAccountDB(self.reference_db)
        self.cache = StateCache()
        self.db, _ = open_overlay({}, self.cache)
        self.fast = AccountDB(self.db)
        self.checkpoints: list[tuple[Any, Any]] = []
        self.deleted: set[Address] = set()

    def both(self, method: str, *args: Any) -> None:
        getattr(self.reference, method)(*args)
        getattr(self.fast, method)(*args)

    @rule(address=ADDRESSES, value=VALUES)
    def set_balance(self, address: Address, value: int) -> None:
        self.both("set_balance", address, value)

    @rule(address=ADDRESSES, value=st.integers(0, 3))
    def set_nonce(self, address: Address, value: int) -> None:
        self.both("set_nonce", address, value)

    @rule(address=ADDRESSES)
    def increment_nonce(self, address: Address) -> None:
        self.both("increment_nonce", address)

    @rule(address=ADDRESSES, code=CODES)
    def set_code(self, address: Address, code: bytes) -> None:
        self.both("set_code", address, code)

    @rule(address=ADDRESSES)
    def delete_code(self, address: Address) -> None:
        self.both("delete_code", address)

    @rule(address=ADDRESSES, slot=SLOTS, value=VALUES)
    def set_storage(self, address: Address, slot: int, value: int) -> None:
        self.both("set_storage", address, slot, value)

    @rule(address=ADDRESSES)
    def delete_storage(self, address: Address) -> None:
        if self.may_delete(address):
            self.both("delete_storage", address)

    @rule(address=ADDRESSES)
    def delete_account(self, address: Address) -> None:
        if self.may_delete(address):
            self.both("delete_account", address)

    def may_delete(self, address: Address) -> bool:
        """py-evm reverts across one storage deletion per account only (deletions come at
        the end of a transaction or with a CREATE): no second one under open checkpoints."""
        if not self.checkpoints:
            return True
        if address in self.deleted:
            return False
        self.deleted.add(address)
        return True

    @rule(address=ADDRESSES)
    def touch_account(self, address: Address) -> None:
        self.both("touch_account", address)

    @rule(address=ADDRESSES, slot=SLOTS)
    def mark_warm(self, address: Address, slot: int) -> None:
        self.both("mark_address_warm", address)
        self.both("mark_storage_warm", address, slot)

    @rule()
    def record(self) -> None:
        self.checkpoints.append((self.reference.record(), self.fast.record()))

    @precondition(lambda self: self.checkpoints)
    @rule()
    def discard(self) -> None:
        reference, fast = self.checkpoints.pop()
        self.reference.discard(reference)
        self.fast.discard(fast)

    @precondition(lambda self: self.checkpoints)
    @rule()
    def commit(self) -> None:
        reference, fast = self.checkpoints.pop()
        self.reference.commit(reference)
        self.fast.commit(fast)

    @rule()
    def end_transaction(self) -> None:
        self.both("lock_changes")
        self.checkpoints.clear()
        self.deleted.clear()

    @rule()
    def make_state_root(self) -> None:
        self.end_transaction()
        assert self.fast.make_state_root() == self.reference.make_state_root()

    @rule(reopen=st.booleans())
    def persist(self, reopen: bool) -> None:
        self.end_transaction()
        self.reference.persist()
        self.fast.persist()
        assert self.fast.state_root == self.reference.state_root
        if reopen:  # a new execution at this root: from the cache, or cold from the store
            root = self.reference.state_root
            self.reference = ReferenceAccountDB(self.reference_db, root)
            self.fast = AccountDB(self.db, root)
            cold_db, _ = open_overlay(dict(self.db.wrapped_db.changes))  # type: ignore[attr-defined]
            self.check_reads(AccountDB(cold_db, root), warm_flags=False)

    @invariant()
    def reads_agree(self) -> None:
        self.check_reads(self.fast, warm_flags=True)

    def check_reads(self, fast: AccountDB, warm_flags: bool) -> None:
        reference = self.reference
        for address in (Address(bytes([i]) * 20) for i in (1, 2, 3, 0xAB)):
            for name in (
                "get_balance",
                "get_nonce",
                "get_code",
                "get_code_hash",
                "account_exists",
                "account_is_empty",
                "account_has_code_or_nonce",
            ):
                assert getattr(fast, name)(address) == getattr(reference, name)(address), name
            for slot in (0, 1, 2, 2**255):
                for from_journal in (True, False):
                    assert fast.get_storage(address, slot, from_journal) == reference.get_storage(
                        address, slot, from_journal
                    ), (slot, from_journal)
                if warm_flags:
                    assert fast.is_storage_warm(address, slot) == reference.is_storage_warm(
                        address, slot
                    )
            if warm_flags:
                assert fast.is_address_warm(address) == reference.is_address_warm(address)


TestAccountDBMatchesPyEvm = AccountDBMachine.TestCase
TestAccountDBMatchesPyEvm.settings = settings(max_examples=100, stateful_step_count=40)
