"""The account database py-evm executes on: a journal over decoded tries.

`AccountDB` implements py-evm's `AccountDatabaseAPI` in place of its layered databases
(JournalDB, CacheDB, KeyMapDB and AccessLogDB over a HexaryTrie). Reads go to the
changes of this execution, then to the tries under the state root it started from,
which the engine's `StateCache` keeps decoded across blocks. Changes are plain dicts;
an undo log makes `record`/`discard`/`commit` (call frames, reverted transactions)
cost what was changed since the checkpoint. `make_state_root` applies all changes to
the tries as one sorted batch per trie and hashes only what changed; `persist` writes
those nodes and the new code to the database it was given and makes the new tries the
cache's, so the next block starts from them.
"""

from __future__ import annotations

from typing import Any

from eth.abc import AccountDatabaseAPI, AtomicDatabaseAPI, MetaWitnessAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.db.journal import get_next_checkpoint
from eth.db.witness import MetaWitness
from eth.typing import JournalDBCheckpoint
from eth.validation import validate_uint64, validate_uint256
from eth.vm.interrupt import MissingBytecode
from eth_typing import Address, Hash32

from peerchain.core.crypto import keccak256
from peerchain.execution import trie
from peerchain.execution.db import ExecutionDB
from peerchain.execution.statecache import (
    EMPTY_ACCOUNT,
    AccountRecord,
    StateCache,
    account_path,
    encode_account,
    encode_slot,
    read_account,
    read_slot,
    slot_path,
)
from peerchain.execution.trie import BLANK_ROOT, Child, MissingNode

_ABSENT: Any = object()
# Undo-log entry kinds.
_ACCOUNT, _SLOT, _STORAGE, _WARM, _CODE = range(5)


class _Slots:
    """An account's storage changes: values by slot, over an emptied storage if `wiped`."""

    __slots__ = ("values", "wiped")

    def __init__(self, wiped: bool, values: dict[int, int]) -> None:
        self.wiped = wiped
        self.values = values


class AccountDB(AccountDatabaseAPI):
    """Accounts, storage and code at one state root, with py-evm's journal semantics."""

    def __init__(self, db: AtomicDatabaseAPI, state_root: Hash32 = BLANK_ROOT_HASH) -> None:
        self._db = db
        self._cache = db.state_cache if isinstance(db, ExecutionDB) else StateCache(roots=64)
        self._known_roots: set[bytes] = set()
        self._reset(state_root)

    def _reset(self, state_root: bytes) -> None:
        """Start over from `state_root` with no changes."""
        self._root = state_root
        self._known_roots.add(state_root)
        self._new_nodes: dict[bytes, bytes] = {}
        self._base: Child = self._cache.root(state_root, self._load)
        self._read: dict[bytes, AccountRecord | None] = {}
        self._storage_bases: dict[bytes, Child] = {}
        self._accounts: dict[bytes, AccountRecord | None] = {}
        self._storage: dict[bytes, _Slots] = {}  # by earlier transactions
        self._tx_storage: dict[bytes, _Slots] = {}  # by the current transaction
        self._codes: dict[bytes, bytes] = {}
        self._made: tuple[int, bytes, Child, dict[bytes, tuple[bytes, Child]]] | None = None
        self._version = 0
        self._lock_point()

    def _lock_point(self) -> None:
        """Forget what can no longer be reverted (the end of a transaction)."""
        self._journal: list[tuple[Any, ...]] = []
        self._marks: list[tuple[int, int]] = []
        self._warm: set[Any] = set()

    def _load(self, key: bytes) -> bytes:
        pending = self._new_nodes.get(key)  # made by make_state_root, not yet persisted
        if pending is not None:
            return pending
        try:
            return bytes(self._db[key])
        except KeyError:
            raise MissingNode(f"state trie node 0x{key.hex()} is not in the database") from None

    # --- roots --------------------------------------------------------------------------
    @property
    def state_root(self) -> Hash32:
        return Hash32(self._root)

    @state_root.setter
    def state_root(self, value: Hash32) -> None:
        if value not in self._known_roots:
            self._reset(value)  # another state altogether: pending changes do not apply
        self._root = value

    def has_root(self, state_root: bytes) -> bool:
        return state_root == BLANK_ROOT or state_root in self._db

    # --- accounts -----------------------------------------------------------------------
    def _base_account(self, address: bytes) -> AccountRecord | None:
        account = self._read.get(address, _ABSENT)
        if account is _ABSENT:
            account = self._read[address] = read_account(self._base, address, self._load)
        return account  # type: ignore[no-any-return]

    def _account(self, address: bytes) -> AccountRecord | None:
        account = self._accounts.get(address, _ABSENT)
        if account is _ABSENT:
            return self._base_account(address)
        return account  # type: ignore[no-any-return]

    def _set_account(self, address: bytes, account: AccountRecord | None) -> None:
        self._journal.append((_ACCOUNT, address, self._accounts.get(address, _ABSENT)))
        self._accounts[address] = account
        self._version += 1

    def _update_account(self, address: bytes, **fields: Any) -> None:
        """Set some fields of an account (created empty if it does not exist)."""
        self._set_account(address, (self._account(address) or EMPTY_ACCOUNT)._replace(**fields))

    def get_balance(self, address: Address) -> int:
        account = self._account(address)
        return 0 if account is None else account.balance

    def set_balance(self, address: Address, balance: int) -> None:
        validate_uint256(balance, title="Account Balance")
        # (not `_update_account`: NamedTuple._replace costs more, on every transaction)
        nonce, _, storage_root, code_hash = self._account(address) or EMPTY_ACCOUNT
        self._set_account(address, AccountRecord(nonce, balance, storage_root, code_hash))

    def get_nonce(self, address: Address) -> int:
        account = self._account(address)
        return 0 if account is None else account.nonce

    def set_nonce(self, address: Address, nonce: int) -> None:
        validate_uint64(nonce, title="Nonce")
        _, balance, storage_root, code_hash = self._account(address) or EMPTY_ACCOUNT
        self._set_account(address, AccountRecord(nonce, balance, storage_root, code_hash))

    def increment_nonce(self, address: Address) -> None:
        self.set_nonce(address, self.get_nonce(address) + 1)

    def get_code_hash(self, address: Address) -> Hash32:
        account = self._account(address)
        return Hash32(EMPTY_SHA3 if account is None else account.code_hash)

    def get_code(self, address: Address) -> bytes:
        code_hash = self.get_code_hash(address)
        if code_hash == EMPTY_SHA3:
            return b""
        code = self._codes.get(code_hash)
        if code is not None:
            return code
        try:
            return self._cache.code(code_hash, self._load)
        except MissingNode:
            raise MissingBytecode(code_hash) from None

    def set_code(self, address: Address, code: bytes) -> None:
        code_hash = keccak256(code)
        if code_hash not in self._codes:
            self._journal.append((_CODE, code_hash))
            self._codes[code_hash] = bytes(code)
        self._update_account(address, code_hash=code_hash)

    def delete_code(self, address: Address) -> None:
        self._update_account(address, code_hash=EMPTY_SHA3)

    def account_has_code_or_nonce(self, address: Address) -> bool:
        account = self._account(address)
        return account is not None and (account.nonce != 0 or account.code_hash != EMPTY_SHA3)

    def delete_account(self, address: Address) -> None:
        self._wipe(address)
        self._set_account(address, None)

    def account_exists(self, address: Address) -> bool:
        return self._account(address) is not None

    def touch_account(self, address: Address) -> None:
        self._set_account(address, self._account(address) or EMPTY_ACCOUNT)

    def account_is_empty(self, address: Address) -> bool:
        account = self._account(address)
        return account is None or (
            account.nonce == 0 and account.balance == 0 and account.code_hash == EMPTY_SHA3
        )

    # --- storage ------------------------------------------------------------------------
    def _storage_base(self, address: bytes) -> Child:
        """The storage trie of the account as the base state holds it."""
        root = self._storage_bases.get(address, _ABSENT)
        if root is _ABSENT:
            account = self._base_account(address)
            storage_root = BLANK_ROOT if account is None else account.storage_root
            root = self._storage_bases[address] = self._cache.root(storage_root, self._load)
        return root  # type: ignore[no-any-return]

    def _base_slot(self, address: bytes, slot: int) -> int:
        root = self._storage_base(address)
        return 0 if root is None else read_slot(root, slot, self._load)

    def _slot(self, address: bytes, slot: int) -> int:
        changed = self._tx_storage.get(address)
        if changed is not None:
            value = changed.values.get(slot)
            if value is not None:
                return value
            if changed.wiped:
                return 0
        return self._original(address, slot)

    def _original(self, address: bytes, slot: int) -> int:
        """The slot's value as the current transaction found it (what py-evm reads with
        from_journal=False: after the transaction emptied the storage, what the block's
        earlier transactions wrote, else 0)."""
        changed = self._storage.get(address)
        if changed is not None:
            value = changed.values.get(slot)
            if value is not None:
                return value
            if changed.wiped:
                return 0
        in_tx = self._tx_storage.get(address)
        if in_tx is not None and in_tx.wiped:
            return 0
        return self._base_slot(address, slot)

    def get_storage(self, address: Address, slot: int, from_journal: bool = True) -> int:
        return self._slot(address, slot) if from_journal else self._original(address, slot)

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        validate_uint256(value, title="Storage Value")
        validate_uint256(slot, title="Storage Slot")
        changed = self._tx_storage.get(address)
        if changed is None:
            changed = self._tx_storage[address] = _Slots(False, {})
            self._journal.append((_STORAGE, address, _ABSENT))
        self._journal.append((_SLOT, changed, slot, changed.values.get(slot, _ABSENT)))
        changed.values[slot] = value
        self._version += 1

    def delete_storage(self, address: Address) -> None:
        self._wipe(address)
        self._update_account(address, storage_root=BLANK_ROOT)

    def _wipe(self, address: bytes) -> None:
        self._journal.append((_STORAGE, address, self._tx_storage.get(address, _ABSENT)))
        self._tx_storage[address] = _Slots(True, {})
        self._version += 1

    def _lock_storage(self) -> None:
        """Fold the current transaction's storage changes into the block's."""
        storage = self._storage
        for address, changed in self._tx_storage.items():
            earlier = storage.get(address)
            if earlier is None or changed.wiped:
                storage[address] = changed
            else:
                earlier.values.update(changed.values)
        self._tx_storage = {}

    # --- warm addresses and slots (EIP-2929) ----------------------------------------------
    def is_storage_warm(self, address: Address, slot: int) -> bool:
        return (address, slot) in self._warm

    def mark_storage_warm(self, address: Address, slot: int) -> None:
        self._mark((address, slot))

    def is_address_warm(self, address: Address) -> bool:
        return address in self._warm

    def mark_address_warm(self, address: Address) -> None:
        self._mark(address)

    def _mark(self, key: Any) -> None:
        if key not in self._warm:
            self._warm.add(key)
            self._journal.append((_WARM, key))

    # --- journal ------------------------------------------------------------------------
    def record(self) -> JournalDBCheckpoint:
        # py-evm's counter: the checkpoint is also recorded in its journals (transient
        # storage), which must never see one twice.
        checkpoint = get_next_checkpoint()
        self._marks.append((checkpoint, len(self._journal)))
        return checkpoint

    def _drop_marks(self, checkpoint: int) -> int:
        """Forget `checkpoint` and those after it; the journal length it was taken at (0
        for a checkpoint from before the last lock: everything since can be undone)."""
        marks = self._marks
        for i in range(len(marks) - 1, -1, -1):
            if marks[i][0] == checkpoint:
                length = marks[i][1]
                del marks[i:]
                return length
        marks.clear()
        return 0

    def discard(self, checkpoint: JournalDBCheckpoint) -> None:
        length = self._drop_marks(checkpoint)
        journal = self._journal
        while len(journal) > length:
            entry = journal.pop()
            kind = entry[0]
            if kind == _ACCOUNT:
                _, address, previous = entry
                if previous is _ABSENT:
                    del self._accounts[address]
                else:
                    self._accounts[address] = previous
            elif kind == _SLOT:
                _, slots, slot, previous = entry
                if previous is _ABSENT:
                    del slots.values[slot]
                else:
                    slots.values[slot] = previous
            elif kind == _STORAGE:
                _, address, previous = entry
                if previous is _ABSENT:
                    del self._tx_storage[address]
                else:
                    self._tx_storage[address] = previous
            elif kind == _WARM:
                self._warm.discard(entry[1])
            else:
                del self._codes[entry[1]]
        self._version += 1

    def commit(self, checkpoint: JournalDBCheckpoint) -> None:
        self._drop_marks(checkpoint)

    def lock_changes(self) -> None:
        self._lock_storage()
        self._lock_point()

    # --- roots and persistence ----------------------------------------------------------
    def make_state_root(self) -> Hash32:
        made = self._made
        if made is not None and made[0] == self._version:
            return Hash32(made[1])
        # As in py-evm, the changes so far can no longer be reverted once in the root.
        self._lock_storage()
        self._journal.clear()
        self._marks.clear()
        load = self._load
        out = self._new_nodes
        storage_roots: dict[bytes, tuple[bytes, Child]] = {}
        for address, slots in self._storage.items():
            base = None if slots.wiped else self._storage_base(address)
            changes = sorted(
                (slot_path(slot), encode_slot(value) if value else None)
                for slot, value in slots.values.items()
            )
            node = trie.update(base, changes, load)
            storage_roots[address] = (trie.commit(node, out), node)
        accounts = self._accounts
        for address, (storage_root, _) in storage_roots.items():
            account = accounts[address] if address in accounts else self._base_account(address)
            if account is None:
                if storage_root == BLANK_ROOT:
                    continue
                account = EMPTY_ACCOUNT
            nonce, balance, _, code_hash = account
            accounts[address] = AccountRecord(nonce, balance, storage_root, code_hash)
        changes = sorted(
            (account_path(address), None if account is None else encode_account(account))
            for address, account in accounts.items()
        )
        root_node = trie.update(self._base, changes, load)
        root = trie.commit(root_node, out)
        # The new tries become the base that later changes and reads start from.
        for address in accounts:
            self._storage_bases.pop(address, None)
            self._read.pop(address, None)
        for address, (_, node) in storage_roots.items():
            self._storage_bases[address] = node
        self._base, self._root, self._accounts, self._storage = root_node, root, {}, {}
        self._known_roots.add(root)
        self._made = (self._version, root, root_node, storage_roots)
        return Hash32(root)

    def persist(self) -> MetaWitnessAPI:
        self.make_state_root()
        assert self._made is not None
        _, root, root_node, storage_roots = self._made
        db = self._db
        for node_hash, encoded in self._new_nodes.items():
            db[node_hash] = encoded
        for code_hash, code in self._codes.items():
            db[code_hash] = code
            self._cache.keep_code(code_hash, code)
        for storage_root, node in storage_roots.values():
            self._cache.keep_root(storage_root, node)
        self._cache.keep_root(root, root_node)
        self._reset(root)
        return MetaWitness(set(), {})
