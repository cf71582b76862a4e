"""Fixtures of the explorer tests: one served dev chain per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Chain, dev_node, serve_chain


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    node, store = dev_node(Path(tmp_path_factory.mktemp("chain")))
    served = None
    try:
        result = serve_chain(node)
        served = result.served
        yield result
    finally:
        if served is not None:
            served.close()
        store.close()
