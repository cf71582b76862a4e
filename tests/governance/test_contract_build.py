"""The shipped bytecode of the governance contract is what its source compiles to, and
the storage slots the genesis writes are where Vyper puts those variables."""

from __future__ import annotations

from pathlib import Path

import vyper

from peerchain.core import governance
from peerchain.core.governance_code import RUNTIME_CODE

SOURCE = Path(__file__).parents[2] / "src" / "peerchain" / "contracts" / "Validators.vy"


def test_recompiling_the_source_gives_the_shipped_bytecode_and_layout() -> None:
    out = vyper.compile_code(SOURCE.read_text(), output_formats=["bytecode_runtime", "layout"])
    assert bytes.fromhex(out["bytecode_runtime"].removeprefix("0x")) == RUNTIME_CODE
    layout = out["layout"]["storage_layout"]
    assert layout["members"]["slot"] == governance.MEMBERS_SLOT
    assert layout["members"]["type"] == f"DynArray[Member, {governance.MAX_VALIDATORS}]"
    assert layout["lifetime"]["slot"] == governance.LIFETIME_SLOT
    assert layout["jail_double_signers"]["slot"] == governance.JAIL_SLOT
