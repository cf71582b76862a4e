"""geth's prestateTracer: the accounts a transaction touched, as they were before it.

Accounts are read when first touched (sender, recipient or created address and
coinbase before the transaction starts; then each BALANCE, EXTCODE*, call target,
created contract and SELFDESTRUCT beneficiary), and the storage slots each contract
read or wrote. In diff mode the answer is {"post", "pre"}: only what changed, with
"pre" holding the old values and "post" the new ones (zero slots left out).
"""

from __future__ import annotations

from typing import Any

from eth._utils.address import generate_contract_address
from eth.abc import StateAPI
from eth_typing import Address

from peerchain.core.crypto import keccak256 as keccak
from peerchain.core.tracing import TraceConfig
from peerchain.execution.tracing.hooks import CALLS, CREATES, SELFDESTRUCT, Frame, Step, Tracer

_DELEGATION = bytes.fromhex("ef0100")
_ACCOUNT_OPS = {0x31, 0x3B, 0x3C, 0x3F, SELFDESTRUCT}  # BALANCE, EXTCODESIZE/COPY/HASH
_STORAGE_OPS = {0x54, 0x55}


def _delegate(code: bytes) -> bytes | None:
    if len(code) == 23 and code.startswith(_DELEGATION):
        return code[3:]
    return None


class _Account:
    __slots__ = ("balance", "code", "nonce", "storage")

    def __init__(self, state: StateAPI, address: bytes) -> None:
        self.balance = state.get_balance(Address(address))
        self.nonce = state.get_nonce(Address(address))
        self.code = bytes(state.get_code(Address(address)))
        self.storage: dict[int, int] = {}

    def is_empty(self) -> bool:
        return not (self.nonce or self.code or self.storage or self.balance)


class PrestateTracer(Tracer):
    """Collects pre-state (and post-state in diff mode); `result()` is geth's answer."""

    def __init__(self, config: TraceConfig) -> None:
        self._config = config
        self._state: StateAPI | None = None
        self._pre: dict[bytes, _Account] = {}
        self._created: set[bytes] = set()
        self._deleted: set[bytes] = set()

    def begin(self, state: StateAPI, sender: bytes, to: bytes | None, coinbase: bytes) -> None:
        """Before the transaction touches the state."""
        self._state = state
        if to is None:
            to = generate_contract_address(Address(sender), state.get_nonce(Address(sender)))
            self._created.add(to)
        else:
            target = _delegate(bytes(state.get_code(Address(to))))
            if target is not None:
                self._lookup(target)
        for address in (sender, to, coinbase):
            self._lookup(address)

    def _lookup(self, address: bytes) -> _Account:
        account = self._pre.get(address)
        if account is None:
            assert self._state is not None
            account = self._pre[address] = _Account(self._state, address)
        return account

    def _lookup_slot(self, address: bytes, slot: int) -> None:
        if self._config.disable_storage:
            return
        account = self._lookup(address)
        if slot not in account.storage:
            assert self._state is not None
            account.storage[slot] = self._state.get_storage(Address(address), slot)

    def enter(self, frame: Frame) -> None:
        if frame.kind in CREATES.values() and frame.depth > 0:
            self._created.add(frame.to)
            self._lookup(frame.to)

    def step(self, step: Step) -> None:
        op = step.op
        if op not in _STORAGE_OPS and op not in _ACCOUNT_OPS and op not in CALLS:
            return
        stack = step.stack()
        if op in _STORAGE_OPS and stack:
            self._lookup_slot(step.address, stack[-1])
        elif op in _ACCOUNT_OPS and stack:
            self._lookup((stack[-1] % 2**160).to_bytes(20, "big"))
            if op == SELFDESTRUCT and step.address in self._created:
                self._deleted.add(step.address)  # only a contract made in this transaction
        elif op in CALLS and len(stack) >= 5:
            target = (stack[-2] % 2**160).to_bytes(20, "big")
            self._lookup(target)
            delegate = _delegate(bytes(step.state.get_code(Address(target))))
            if delegate is not None:
                self._lookup(delegate)

    def result(self) -> dict[str, Any]:
        if not self._config.diff_mode:
            return self._shaped_pre()
        post = self._diff()
        return {
            "post": post,
            "pre": {
                _hex(a): self._shape(acc) for a, acc in self._pre.items() if not acc.is_empty()
            },
        }

    def _shaped_pre(self) -> dict[str, Any]:
        return {_hex(a): self._shape(acc) for a, acc in self._pre.items() if not acc.is_empty()}

    def _diff(self) -> dict[str, Any]:
        """The changed fields after the transaction; trims `_pre` to what changed."""
        assert self._state is not None
        post: dict[str, Any] = {}
        for address, before in list(self._pre.items()):
            if address in self._deleted:
                continue
            after = _Account(self._state, address)
            changes: dict[str, Any] = {}
            if after.balance != before.balance:
                changes["balance"] = hex(after.balance)
            if after.code != before.code:
                if not self._config.disable_code:
                    changes["code"] = "0x" + after.code.hex()
                changes["codeHash"] = "0x" + keccak(after.code).hex()
            if after.nonce != before.nonce:
                changes["nonce"] = after.nonce
            slots: dict[str, str] = {}
            for slot, old in list(before.storage.items()):
                new = self._state.get_storage(Address(address), slot)
                if new == old or old == 0:
                    del before.storage[slot]
                if new != old:
                    changes["storage"] = slots
                    if new != 0:
                        slots[_hex32(slot)] = _hex32(new)
            if not changes:
                del self._pre[address]
                continue
            if "storage" in changes and not slots:
                del changes["storage"]
            post[_hex(address)] = changes
        return post

    def _shape(self, account: _Account) -> dict[str, Any]:
        shaped: dict[str, Any] = {"balance": hex(account.balance)}
        if account.code:
            if not self._config.disable_code:
                shaped["code"] = "0x" + account.code.hex()
            shaped["codeHash"] = "0x" + keccak(account.code).hex()
        if account.nonce:
            shaped["nonce"] = account.nonce
        if account.storage and not self._config.disable_storage:
            shaped["storage"] = {_hex32(k): _hex32(v) for k, v in account.storage.items()}
        return shaped


def _hex(address: bytes) -> str:
    return "0x" + address.hex()


def _hex32(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()
