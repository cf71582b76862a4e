"""Reserved blocks: a run of empty blocks that a dev node declares instead of executing.

`hardhat_mine(1_000_000)` must answer at once, as in Hardhat and Anvil. An empty block
changes nothing but the header, so a dev node records the run as one `Reservation` and
makes each block's header from it when asked. Every read stays consistent: numbers,
timestamps (one `interval` apart), base fees (falling by an eighth per empty block, as
the fee rule has it), the state (the one before the run) and the chain of parent
hashes. A reserved block's hash is not the keccak of its header (a million of those,
one after the other, would take seconds): it is the reservation's 24-byte tag followed
by the block number, so a hash finds its block without any index. The block after the
run, which the node stores, is a real header whose parent is the last reserved hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peerchain.core.blocks import FORK_HEADER_FIELDS, Block, Header
from peerchain.core.crypto import keccak256
from peerchain.core.fees import next_base_fee
from peerchain.core.genesis import ZERO_HASH
from peerchain.core.rlp import encode_rlp, encode_uint

EMPTY_TRIE_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
EMPTY_UNCLES_HASH = bytes.fromhex(
    "1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
)
EMPTY_REQUESTS_HASH = bytes.fromhex(
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)
_TAG_SIZE = 24


@dataclass(frozen=True, slots=True)
class Reservation:
    """Empty blocks `first`..`last` on top of `parent` (the block before them).

    The block `last + 1` (stored by the node) is made by `header(last + 1)` too.
    """

    first: int
    last: int
    interval: int
    first_timestamp: int
    parent: Header

    @property
    def numbers(self) -> range:
        return range(self.first, self.last + 1)

    @property
    def tag(self) -> bytes:
        return keccak256(b"peerchain reserved blocks" + self.parent.hash)[:_TAG_SIZE]

    def block_hash(self, number: int) -> bytes:
        """The hash of reserved block `number` (the parent's hash before `first`)."""
        if number == self.first - 1:
            return self.parent.hash
        return self.tag + number.to_bytes(32 - _TAG_SIZE, "big")

    def number_of(self, block_hash: bytes) -> int | None:
        """The reserved block a hash names, or None."""
        if len(block_hash) != 32 or block_hash[:_TAG_SIZE] != self.tag:
            return None
        number = int.from_bytes(block_hash[_TAG_SIZE:], "big")
        return number if number in self.numbers else None

    def base_fee(self, number: int) -> int:
        """Base fee of block `number` in first..last+1: the fee rule over empty blocks."""
        fee = next_base_fee(
            self.parent.gas_used, self.parent.gas_limit, self.parent.base_fee_per_gas or 0
        )
        for _ in range(number - self.first):
            lower = next_base_fee(0, self.parent.gas_limit, fee)
            if lower == fee:
                break  # the rule has reached its fixed point
            fee = lower
        return fee

    def header(self, number: int) -> Header:
        """The header of block `number` in first..last+1 (the hash of last+1 is left
        zero: the node stores that one and its hash is the real one)."""
        if not self.first <= number <= self.last + 1:
            raise ValueError(f"block {number} is not in reservation {self.first}..{self.last}")
        p = self.parent
        return Header(
            hash=self.block_hash(number) if number <= self.last else ZERO_HASH,
            parent_hash=self.block_hash(number - 1),
            uncles_hash=EMPTY_UNCLES_HASH,
            coinbase=p.coinbase,
            state_root=p.state_root,
            transactions_root=EMPTY_TRIE_ROOT,
            receipts_root=EMPTY_TRIE_ROOT,
            logs_bloom=bytes(256),
            difficulty=0,
            number=number,
            gas_limit=p.gas_limit,
            gas_used=0,
            timestamp=self.first_timestamp + (number - self.first) * self.interval,
            extra_data=b"",
            mix_hash=p.mix_hash,
            nonce=bytes(8),
            base_fee_per_gas=None if p.base_fee_per_gas is None else self.base_fee(number),
            withdrawals_root=None if p.withdrawals_root is None else EMPTY_TRIE_ROOT,
            blob_gas_used=None if p.blob_gas_used is None else 0,
            excess_blob_gas=p.excess_blob_gas,
            parent_beacon_block_root=p.parent_beacon_block_root,
            requests_hash=None if p.requests_hash is None else EMPTY_REQUESTS_HASH,
        )

    def block(self, number: int) -> Block:
        """Reserved block `number` with no transactions."""
        header = self.header(number)
        return Block(header=header, transactions=(), rlp=encode_empty_block(header))

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "interval": self.interval,
            "firstTimestamp": self.first_timestamp,
            "parent": _header_to_json(self.parent),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Reservation:
        return cls(
            first=int(value["first"]),
            last=int(value["last"]),
            interval=int(value["interval"]),
            first_timestamp=int(value["firstTimestamp"]),
            parent=_header_from_json(value["parent"]),
        )


def can_reserve_after(parent: Header) -> bool:
    """Whether empty blocks after `parent` can be declared: blob gas must be settled
    (no excess to decay), since reserved headers copy it."""
    return not parent.excess_blob_gas and not parent.blob_gas_used


def _header_to_json(header: Header) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in Header.__slots__:
        value = getattr(header, name)
        out[name] = value.hex() if isinstance(value, bytes) else value
    return out


def _header_from_json(value: dict[str, Any]) -> Header:
    fields: dict[str, Any] = {}
    for name in Header.__slots__:
        item = value.get(name)
        is_int = name in _INT_FIELDS
        fields[name] = item if item is None or is_int else bytes.fromhex(item)
    return Header(**fields)


_INT_FIELDS = {
    "difficulty",
    "number",
    "gas_limit",
    "gas_used",
    "timestamp",
    "base_fee_per_gas",
    "blob_gas_used",
    "excess_blob_gas",
}


def encode_empty_block(header: Header) -> bytes:
    """RLP of an empty block with this header (for its size)."""
    items: list[Any] = [
        header.parent_hash,
        header.uncles_hash,
        header.coinbase,
        header.state_root,
        header.transactions_root,
        header.receipts_root,
        header.logs_bloom,
        encode_uint(header.difficulty),
        encode_uint(header.number),
        encode_uint(header.gas_limit),
        encode_uint(header.gas_used),
        encode_uint(header.timestamp),
        header.extra_data,
        header.mix_hash,
        header.nonce,
    ]
    for name in FORK_HEADER_FIELDS:
        value = getattr(header, name)
        if value is not None:
            items.append(encode_uint(value) if isinstance(value, int) else value)
    body: list[Any] = [items, [], []]
    if header.withdrawals_root is not None:
        body.append([])
    return encode_rlp(body)
