"""One byte string per consensus message: what travels on the consensus channel and what
the write-ahead log stores.

    tag (1) | body      tag 1: proposal, 2: vote, 3: commit (u32 certificate length |
                        certificate | block data; the block hash is the certificate's)
"""

from __future__ import annotations

import struct

from peerchain.core.consensus.certificate import Commit, decode_certificate, encode_certificate
from peerchain.core.consensus.messages import (
    BlockValue,
    Proposal,
    Vote,
    decode_proposal,
    decode_vote,
    encode_proposal,
    encode_vote,
)
from peerchain.core.errors import DecodeError

ConsensusMessage = Proposal | Vote | Commit

_PROPOSAL, _VOTE, _COMMIT = 1, 2, 3
_U32 = struct.Struct(">I")


def encode_message(message: ConsensusMessage) -> bytes:
    """Encode a proposal, vote or commit. Raises ValueError on bad fields."""
    if isinstance(message, Proposal):
        return bytes([_PROPOSAL]) + encode_proposal(message)
    if isinstance(message, Vote):
        return bytes([_VOTE]) + encode_vote(message)
    if message.block.hash != message.certificate.block_hash:
        raise ValueError("a commit's block is not the certified one")
    certificate = encode_certificate(message.certificate)
    return bytes([_COMMIT]) + _U32.pack(len(certificate)) + certificate + message.block.data


def decode_message(data: bytes) -> ConsensusMessage:
    """Decode `encode_message` output. Raises DecodeError."""
    if not data:
        raise DecodeError("empty consensus message")
    tag, body = data[0], data[1:]
    if tag == _PROPOSAL:
        return decode_proposal(body)
    if tag == _VOTE:
        return decode_vote(body)
    if tag == _COMMIT:
        if len(body) < _U32.size:
            raise DecodeError("commit truncated")
        (size,) = _U32.unpack_from(body)
        end = _U32.size + size
        if end > len(body):
            raise DecodeError("commit truncated")
        certificate = decode_certificate(body[_U32.size : end])
        return Commit(BlockValue(certificate.block_hash, body[end:]), certificate)
    raise DecodeError(f"unknown consensus message tag {tag}")
