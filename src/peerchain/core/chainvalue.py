"""What validators agree on for this chain: an Ethereum block plus the certificate of its
parent, so that a block carries the proof that its parent was decided.

`BlockValue.hash` is the block hash; `BlockValue.data` is::

    u32 length of parent certificate | parent certificate (empty at height 1) | block RLP

The block's `extraData` is the hash of that parent certificate (empty at height 1).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from peerchain.core.consensus.certificate import (
    CommitCertificate,
    certificate_hash,
    decode_certificate,
    encode_certificate,
)
from peerchain.core.consensus.messages import BlockValue
from peerchain.core.errors import DecodeError

_U32 = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class ChainValue:
    """A decoded block value: the parent's certificate (None at height 1) and the block."""

    parent_certificate: CommitCertificate | None
    block_rlp: bytes


def encode_chain_value(
    block_hash: bytes, parent_certificate: CommitCertificate | None, block_rlp: bytes
) -> BlockValue:
    """The consensus value for a block built on a parent decided by `parent_certificate`."""
    certificate = b"" if parent_certificate is None else encode_certificate(parent_certificate)
    return BlockValue(block_hash, _U32.pack(len(certificate)) + certificate + block_rlp)


def decode_chain_value(data: bytes) -> ChainValue:
    """Split a value's data. Raises DecodeError."""
    if len(data) < _U32.size:
        raise DecodeError("block value truncated")
    (size,) = _U32.unpack_from(data)
    end = _U32.size + size
    if end > len(data):
        raise DecodeError("block value truncated")
    certificate = decode_certificate(data[_U32.size : end]) if size else None
    return ChainValue(certificate, data[end:])


def parent_link(parent_certificate: CommitCertificate | None) -> bytes:
    """The `extraData` a block must carry for this parent certificate."""
    return b"" if parent_certificate is None else certificate_hash(parent_certificate)
