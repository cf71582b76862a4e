"""The 2048-bit log bloom filter of Ethereum headers and receipts."""

from __future__ import annotations

import functools

from peerchain.core.crypto import keccak256

BLOOM_BYTES = 256


def _bits(item: bytes) -> tuple[int, int, int]:
    digest = keccak256(item)
    return tuple(  # type: ignore[return-value]
        int.from_bytes(digest[i : i + 2], "big") & 2047 for i in (0, 2, 4)
    )


@functools.lru_cache(maxsize=4096)
def item_bloom(item: bytes) -> int:
    """The bloom holding only `item`, as a 2048-bit big-endian integer (a bloom's bytes
    are that integer's): OR them for a bloom of many items. Kept for the last few
    thousand items (addresses and topics recur)."""
    value = 0
    for bit in _bits(item):
        value |= 1 << bit
    return value


def bloom_may_contain(bloom: bytes, item: bytes) -> bool:
    """Whether `item` may be in `bloom` (False means certainly not)."""
    return all(bloom[BLOOM_BYTES - 1 - bit // 8] & (1 << (bit % 8)) for bit in _bits(item))


def bloom_matches(
    bloom: bytes,
    addresses: tuple[bytes, ...],
    topics: tuple[tuple[bytes, ...] | None, ...],
) -> bool:
    """Whether a block with `bloom` may hold logs matching an address/topic filter."""
    if addresses and not any(bloom_may_contain(bloom, a) for a in addresses):
        return False
    for alternatives in topics:
        if alternatives and not any(bloom_may_contain(bloom, t) for t in alternatives):
            return False
    return True


def log_matches(
    address: bytes,
    log_topics: tuple[bytes, ...],
    addresses: tuple[bytes, ...],
    topics: tuple[tuple[bytes, ...] | None, ...],
) -> bool:
    """Whether one log matches a filter: any listed address; per position, any listed topic."""
    if addresses and address not in addresses:
        return False
    if len(topics) > len(log_topics):
        return False
    return all(not alt or log_topics[i] in alt for i, alt in enumerate(topics))
