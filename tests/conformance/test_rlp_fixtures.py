"""ethereum/tests RLPTests through the project's RLP edge (`encode_rlp` / `decode_rlp`).

Valid cases encode to the expected bytes (also through the direct encoders
`encode_bytes` / `encode_list`) and decode back to the same structure; invalid ones
raise DecodeError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from peerchain.core.errors import DecodeError
from peerchain.core.rlp import (
    RLPItem,
    decode_rlp,
    encode_bytes,
    encode_list,
    encode_rlp,
    encode_uint,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ethereum-tests" / "RLPTests"


def _load(name: str) -> list[Any]:
    cases = json.loads((FIXTURES / name).read_text())
    return [pytest.param(case["in"], case["out"], id=key) for key, case in cases.items()]


VALID = _load("rlptest.json")
INVALID = _load("invalidRLPTest.json")


def _item(value: Any) -> RLPItem:
    """Fixture input -> bytes/list structure: ints big-endian, '#123' big ints, str as UTF-8."""
    if isinstance(value, list):
        return [_item(v) for v in value]
    if isinstance(value, int):
        return encode_uint(value)
    if value.startswith("#"):
        return encode_uint(int(value[1:]))
    return value.encode()


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def test_fixture_sets_are_present() -> None:
    assert len(VALID) >= 28
    assert len(INVALID) >= 26


@pytest.mark.parametrize(("given", "out"), VALID)
def test_valid_rlp_round_trips(given: Any, out: str) -> None:
    item = _item(given)
    assert encode_rlp(item) == _hex(out)
    assert _encode_directly(item) == _hex(out)
    assert decode_rlp(_hex(out)) == item


def _encode_directly(item: RLPItem) -> bytes:
    if isinstance(item, bytes):
        return encode_bytes(item)
    return encode_list(_encode_directly(i) for i in item)


@pytest.mark.parametrize(("given", "out"), INVALID)
def test_invalid_rlp_raises_decode_error(given: Any, out: str) -> None:
    assert given == "INVALID"
    with pytest.raises(DecodeError, match=r"^rlp: "):
        decode_rlp(_hex(out))
