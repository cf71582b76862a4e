"""A block body checked against its header without execution: the binding that lets a
node refuse a relayed proposal whose bytes are not the block its signed hash names."""

from __future__ import annotations

import pytest

from peerchain.core.rlp import decode_rlp, encode_rlp
from peerchain.execution.bodies import InvalidBody

from .conftest import ADDRS, DictChain, sign


def _built(chain: DictChain) -> tuple[bytes, bytes]:
    txs = [sign(0, n, to=ADDRS[1], value=n + 1) for n in range(3)]
    executed = chain.build(txs)
    assert len(executed.block.transactions) == 3
    return executed.block.rlp, executed.block.hash


def _reencoded(block_rlp: bytes, change: object) -> bytes:
    fields = decode_rlp(block_rlp)
    assert isinstance(fields, list)
    change(fields)  # type: ignore[operator]
    return encode_rlp(fields)


def test_the_real_body_gives_its_header_hash(chain: DictChain) -> None:
    block_rlp, block_hash = _built(chain)
    checked = chain.engine.check_body(block_rlp)
    assert checked.hash == block_hash and checked.number == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: f[1].pop(), "transactions root"),
        (lambda f: f[1].reverse(), "transactions root"),
        (lambda f: f[2].append(f[0]), "malformed"),  # the fork allows no ommers at all
        (lambda f: f[3].append([b"\x01", b"\x02", b"\x03" * 20, b"\x04"]), "withdrawals"),
    ],
)
def test_a_forged_body_under_the_real_header_is_refused(
    chain: DictChain, change: object, reason: str
) -> None:
    block_rlp, _ = _built(chain)
    with pytest.raises(InvalidBody, match=reason):
        chain.engine.check_body(_reencoded(block_rlp, change))


def test_garbage_and_trailing_bytes_are_malformed(chain: DictChain) -> None:
    block_rlp, _ = _built(chain)
    for data in (b"", b"\x01\x02", block_rlp + b"\x00", block_rlp[:-1]):
        with pytest.raises(InvalidBody, match="malformed"):
            chain.engine.check_body(data)
