"""A minimal key-value Application for simulations: each block is a batch of writes.

A block's bytes are::

    height (8) | parent hash (32) | proposer (20) | round (4) | salt (8) | state root (32)
    | count (2) | count x (key length (1) | key | value length (1) | value)

and its hash is keccak-256 of them. A write to `set:<address>` (value: the power, 8
bytes, 0 removes) changes the validator set from two heights later (`SetHistory`), as
an approved governance proposal does on the real chain. The state root (keccak of the
sorted state after the writes) is computed by the proposer and checked by every
validator, which therefore executes the block before voting, as the execution layer
does with Ethereum blocks.
`KVDisk` is what survives a crash: the committed chain with certificates, the state and
the WAL bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from peerchain.core.consensus.certificate import CommitCertificate
from peerchain.core.consensus.messages import BlockValue
from peerchain.core.consensus.validators import SetHistory
from peerchain.core.crypto import keccak256
from peerchain.core.errors import DecodeError

_HEAD = struct.Struct(">Q32s20sIQ32sH")
SET_PREFIX = b"set:"


@dataclass(frozen=True, slots=True)
class KVBlock:
    """A decoded key-value block."""

    height: int
    parent: bytes
    proposer: bytes
    round: int
    salt: int
    state_root: bytes
    writes: tuple[tuple[bytes, bytes], ...]


@dataclass(slots=True)
class KVDisk:
    """A node's durable storage; `sets` the validator set of each height."""

    sets: SetHistory
    chain: list[tuple[BlockValue, CommitCertificate]] = field(default_factory=list)
    state: dict[bytes, bytes] = field(default_factory=dict)
    wal: bytearray = field(default_factory=bytearray)

    @property
    def head_hash(self) -> bytes:
        return self.chain[-1][0].hash if self.chain else bytes(32)


def _encode_pairs(pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Length-prefixed keys and values (each under 256 bytes)."""
    return b"".join(bytes([len(k)]) + k + bytes([len(v)]) + v for k, v in pairs)


def state_root(state: dict[bytes, bytes]) -> bytes:
    """A commitment to the whole state."""
    return keccak256(_encode_pairs(sorted(state.items())))


def encode_kv_block(block: KVBlock) -> BlockValue:
    """The block's bytes and hash."""
    head = _HEAD.pack(
        block.height, block.parent, block.proposer, block.round, block.salt,
        block.state_root, len(block.writes),
    )  # fmt: skip
    data = head + _encode_pairs(block.writes)
    return BlockValue(keccak256(data), data)


def decode_kv_block(data: bytes) -> KVBlock:
    """Parse block bytes. Raises DecodeError."""
    if len(data) < _HEAD.size:
        raise DecodeError("block truncated")
    height, parent, proposer, round, salt, root, count = _HEAD.unpack_from(data)
    writes, pos = [], _HEAD.size
    for _ in range(count):
        if pos >= len(data):
            raise DecodeError("block truncated")
        key = data[pos + 1 : pos + 1 + data[pos]]
        pos += 1 + len(key)
        if pos >= len(data):
            raise DecodeError("block truncated")
        value = data[pos + 1 : pos + 1 + data[pos]]
        pos += 1 + len(value)
        writes.append((key, value))
    if pos != len(data):
        raise DecodeError("trailing bytes or truncated write")
    return KVBlock(height, parent, proposer, round, salt, root, tuple(writes))


def set_write(address: bytes, power: int) -> tuple[bytes, bytes]:
    """The write that sets `address`'s voting power (0 removes it)."""
    return SET_PREFIX + address, power.to_bytes(8, "big")


def set_changes(block: KVBlock) -> list[tuple[bytes, int]]:
    """The validator set changes a block decides, in order."""
    return [
        (key[len(SET_PREFIX) :], int.from_bytes(value, "big"))
        for key, value in block.writes
        if key.startswith(SET_PREFIX) and len(key) == len(SET_PREFIX) + 20 and len(value) == 8
    ]


def execute_kv_block(
    block: BlockValue, height: int, parent: bytes, state: dict[bytes, bytes]
) -> tuple[KVBlock, dict[bytes, bytes]] | None:
    """Check and apply `block` as block `height` on top of `parent` and `state`: the
    decoded block and the new state, or None if the block is invalid."""
    if keccak256(block.data) != block.hash:
        return None
    try:
        decoded = decode_kv_block(block.data)
    except DecodeError:
        return None
    if decoded.height != height or decoded.parent != parent:
        return None
    after = {**state, **dict(decoded.writes)}
    if state_root(after) != decoded.state_root:
        return None
    return decoded, after


class KVApplication:
    """The consensus application (docs/architecture.md, section 3) over a KVDisk.
    Execution results wait in memory (lost in a crash) until `commit` stores the one of
    the decided block. A proposer puts the validator set changes `planned` for a height
    into its block, and the removal of each validator in `offenders` (double signers it
    saw) that is still in the set."""

    def __init__(
        self,
        disk: KVDisk,
        address: bytes,
        planned: Mapping[int, Sequence[tuple[bytes, int]]] | None = None,
    ) -> None:
        self.disk = disk
        self.address = address
        self.planned = planned or {}
        self.offenders: list[bytes] = []
        self._executed: dict[BlockValue, dict[bytes, bytes]] = {}

    def build_block(self, height: int, round: int, salt: int = 0) -> BlockValue:
        """A valid block for `height` writing one key and the planned set changes;
        `salt` makes different ones."""
        writes = (
            (b"h%d" % height, self.address[:4] + round.to_bytes(4, "big")),
            *(set_write(a, p) for a, p in self.planned.get(height, ())),
            *(
                set_write(a, 0)
                for a in self.offenders
                if a in (self.disk.sets.at(height + 1) or ())
            ),
        )
        after = {**self.disk.state, **dict(writes)}
        kv = KVBlock(
            height, self.disk.head_hash, self.address, round, salt, state_root(after), writes
        )
        block = encode_kv_block(kv)
        self._executed[block] = after
        return block

    def prepare_proposal(self, height: int, round: int) -> BlockValue:
        return self.build_block(height, round)

    def validate_proposal(self, height: int, block: BlockValue) -> bool:
        if height != len(self.disk.chain) + 1:
            return False
        result = execute_kv_block(block, height, self.disk.head_hash, self.disk.state)
        if result is None:
            return False
        self._executed[block] = result[1]
        return True

    def commit(self, height: int, block: BlockValue, certificate: CommitCertificate) -> None:
        if height != len(self.disk.chain) + 1:
            raise RuntimeError(f"commit of height {height} on a chain of {len(self.disk.chain)}")
        after = self._executed.pop(block)  # KeyError: committed without executing it
        self.disk.chain.append((block, certificate))
        self.disk.state = after
        self.disk.sets.committed(height, set_changes(decode_kv_block(block.data)))
        self._executed.clear()
