"""The point-evaluation precompile works and loads the KZG trusted setup only once."""

from __future__ import annotations

import hashlib

import ckzg
from eth.precompiles import point_evaluation

from peerchain.core.queries import CallRequest
from peerchain.execution import vm

from .conftest import DictChain

POINT_EVALUATION = b"\0" * 19 + b"\x0a"
FIELD_ELEMENTS_PER_BLOB = 4096
BLS_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001


def point_evaluation_input() -> bytes:
    setup = vm._trusted_setup(point_evaluation.TRUSTED_SETUP_PATH, 0)
    blob = b"".join((i * 7919).to_bytes(32, "big") for i in range(FIELD_ELEMENTS_PER_BLOB))
    commitment = ckzg.blob_to_kzg_commitment(blob, setup)
    z = (12345).to_bytes(32, "big")
    proof, y = ckzg.compute_kzg_proof(blob, z, setup)
    versioned_hash = b"\x01" + hashlib.sha256(commitment).digest()[1:]
    return versioned_hash + z + y + commitment + proof


def test_point_evaluation_runs_with_a_cached_setup(chain: DictChain) -> None:
    data = point_evaluation_input()
    expected = FIELD_ELEMENTS_PER_BLOB.to_bytes(32, "big") + BLS_MODULUS.to_bytes(32, "big")
    before = vm._trusted_setup.cache_info()
    for _ in range(3):
        out = chain.engine.call(CallRequest(to=POINT_EVALUATION, data=data), chain.head)
        assert out == expected
    after = vm._trusted_setup.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 3
