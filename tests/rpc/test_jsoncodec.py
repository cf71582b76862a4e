"""Answers are encoded by orjson, and by the standard library where orjson refuses."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from peerchain.rpc.jsoncodec import encode_json

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_any_answer_decodes_to_what_was_encoded(value: object) -> None:
    assert json.loads(encode_json(value)) == value


def test_integers_beyond_64_bits_take_the_standard_encoder() -> None:
    answer = {"jsonrpc": "2.0", "id": 2**70, "result": "0x1"}
    assert encode_json(answer) == b'{"jsonrpc":"2.0","id":1180591620717411303424,"result":"0x1"}'


def test_output_is_compact_utf8() -> None:
    assert encode_json({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
