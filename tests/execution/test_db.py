"""OverlayDB: py-evm's database over a read-only store, compared with a plain dict."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from peerchain.core.kv import apply_changes
from peerchain.execution.db import OverlayDB, open_overlay

keys = st.binary(min_size=1, max_size=2)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), keys, st.binary(min_size=1, max_size=3)),
        st.tuples(st.just("delete"), keys, st.just(b"")),
    ),
    max_size=30,
)


@given(base=st.dictionaries(keys, st.binary(min_size=1, max_size=3)), operations=ops)
def test_overlay_behaves_like_a_dict_and_its_changes_replay(
    base: dict[bytes, bytes], operations: list[tuple[str, bytes, bytes]]
) -> None:
    store = dict(base)
    overlay = OverlayDB(store)
    model = dict(base)
    for op, key, value in operations:
        if op == "set":
            overlay[key] = value
            model[key] = value
        else:
            overlay.delete(key)
            model.pop(key, None)
        assert overlay.get(key) == model.get(key)
        assert (key in overlay) == (key in model)
    assert store == base  # the store itself is never written
    apply_changes(store, overlay.changes)
    assert store == model


def test_atomic_batches_land_in_the_overlay_only_when_they_succeed() -> None:
    store = {b"a": b"1"}
    db, overlay = open_overlay(store)
    with db.atomic_batch() as batch:
        batch[b"b"] = b"2"
        del batch[b"a"]
    try:
        with db.atomic_batch() as batch:
            batch[b"c"] = b"3"
            raise RuntimeError("abandon")
    except RuntimeError:
        pass
    assert overlay.changes == {b"b": b"2", b"a": None}
    assert store == {b"a": b"1"}
