"""The explorer names every event of the example dApps (by the topic of its signature)."""

from __future__ import annotations

import re

from peerchain.cli.contracts import compile_file
from peerchain.core.crypto import keccak256
from peerchain.explorer.assets import STATIC_DIR

from .scenarios import EXAMPLES


def test_every_example_event_is_named_in_the_explorer() -> None:
    source = (STATIC_DIR / "format.js").read_text()
    named = dict(re.findall(r'"(0x[0-9a-f]{64})":\s*"([^"]+)"', source))
    for path in sorted(EXAMPLES.glob("*.[vs]*")):
        for contract in compile_file(path):
            for entry in contract.abi:
                if entry["type"] != "event":
                    continue
                types = ",".join(i["type"] for i in entry["inputs"])
                signature = f"{entry['name']}({types})"
                topic = "0x" + keccak256(signature.encode()).hex()
                assert named.get(topic) == signature, (path.name, signature)
