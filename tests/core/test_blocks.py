"""Header values: the fork fields are the trailing, optional fields of a Header."""

from __future__ import annotations

from dataclasses import MISSING, fields

from peerchain.core.blocks import FORK_HEADER_FIELDS, Header


def test_fork_header_fields_are_the_optional_tail_of_a_header() -> None:
    tail = fields(Header)[-len(FORK_HEADER_FIELDS) :]
    assert tuple(f.name for f in tail) == FORK_HEADER_FIELDS
    assert all(f.default is None for f in tail)
    assert all(f.default is MISSING for f in fields(Header)[: -len(FORK_HEADER_FIELDS)])
