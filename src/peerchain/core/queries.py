"""Questions asked of the world state at a block: calls, gas estimates and proofs.

The values and errors shared by the execution layer, which answers these questions,
and the node's read view, which RPC and the explorer consume.
"""

from __future__ import annotations

from dataclasses import dataclass

from peerchain.core.errors import PeerChainError

_ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


class ExecutionReverted(PeerChainError):
    """A call or gas estimate reverted; `data` is the revert payload."""

    def __init__(self, message: str, data: bytes = b"") -> None:
        super().__init__(message)
        self.data = data

    def __reduce__(self) -> tuple[type[ExecutionReverted], tuple[str, bytes]]:
        return type(self), (str(self), self.data)


class ExecutionFailed(PeerChainError):
    """A call failed for a reason other than REVERT (out of gas, bad opcode...)."""


class QueryTimeout(PeerChainError):
    """A call, estimate or other read ran longer than the node allows one to run."""


class InvalidOverride(PeerChainError):
    """A state override that cannot be applied (a precompile move that geth refuses)."""


class QueryLimitExceeded(PeerChainError):
    """A read asks for more than the node serves at once (too many results, too many
    calls in progress); the message says which limit and what to do."""


@dataclass(frozen=True, slots=True)
class CallRequest:
    """The transaction-like object of eth_call / eth_estimateGas / eth_sendTransaction."""

    sender: bytes | None = None
    to: bytes | None = None
    gas: int | None = None
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...] = ()
    type: int | None = None


@dataclass(frozen=True, slots=True)
class AccountOverride:
    """New fields for one account, in geth's state-override terms.

    Used by eth_call/eth_estimateGas overrides and by the dev node's state edits
    (hardhat_setBalance, ...). None leaves a field as it is; `storage` replaces the
    whole storage, `storage_diff` sets the slots it names; `move_precompile_to` (calls
    only) moves the precompile at this address to another one.
    """

    balance: int | None = None
    nonce: int | None = None
    code: bytes | None = None
    storage: tuple[tuple[int, int], ...] | None = None
    storage_diff: tuple[tuple[int, int], ...] = ()
    move_precompile_to: bytes | None = None


# (address, override) pairs, applied in order.
StateOverrides = tuple[tuple[bytes, AccountOverride], ...]


@dataclass(frozen=True, slots=True)
class BlockOverrides:
    """Block-context fields an eth_call runs under instead of its block's (geth format)."""

    number: int | None = None
    time: int | None = None
    gas_limit: int | None = None
    fee_recipient: bytes | None = None
    prev_randao: bytes | None = None
    base_fee: int | None = None


@dataclass(frozen=True, slots=True)
class StorageProof:
    """A storage slot, its value and the trie nodes from the storage root to it."""

    key: int
    value: int
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class AccountProof:
    """An account's fields with the trie nodes from the state root to it (eth_getProof)."""

    address: bytes
    balance: int
    nonce: int
    code_hash: bytes
    storage_hash: bytes
    account_proof: tuple[bytes, ...]
    storage_proof: tuple[StorageProof, ...]


def revert_reason(data: bytes) -> str | None:
    """The message of an `Error(string)` revert payload, if it is one."""
    if not data.startswith(_ERROR_SELECTOR) or len(data) < 68:
        return None
    body = data[4:]
    offset = int.from_bytes(body[0:32], "big")
    if offset + 32 > len(body):
        return None
    length = int.from_bytes(body[offset : offset + 32], "big")
    raw = body[offset + 32 : offset + 32 + length]
    if len(raw) != length:
        return None
    return raw.decode("utf-8", errors="replace")
