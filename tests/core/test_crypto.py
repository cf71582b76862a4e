"""The keccak every library of a node process hashes with."""

from __future__ import annotations

import os
import subprocess
import sys

from peerchain.core.crypto import keccak256

EMPTY_KECCAK = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_keccak_of_known_inputs() -> None:
    assert keccak256(b"").hex() == EMPTY_KECCAK
    assert keccak256(b"abc").hex() == (
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    )


def test_py_evm_and_peerchain_hash_with_the_c_backend() -> None:
    """eth-hash's own default (pycryptodome) is several times slower per call; importing
    peerchain selects safe-pysha3 for py-evm, eth-utils and core.crypto alike."""
    env = {k: v for k, v in os.environ.items() if k != "ETH_HASH_BACKEND"}
    script = (
        "import peerchain.execution.engine\n"
        "from eth.db.account import keccak\n"  # the name py-evm's state code calls
        f"assert keccak(b'').hex() == '{EMPTY_KECCAK}'\n"
        "print(type(keccak.hasher.__self__).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "PySha3Backend"
