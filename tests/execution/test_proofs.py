"""eth_getProof: account and storage proofs check out against the block's state root."""

from __future__ import annotations

import rlp
from trie.hexary import HexaryTrie

from peerchain.core.crypto import keccak256

from .conftest import ADDRS, ETHER, DictChain, sign, store_contract, word


def proven_value(root: bytes, key: bytes, proof: tuple[bytes, ...]) -> bytes:
    """Look `key` up in a trie made only of the proof's nodes."""
    nodes = {keccak256(node): node for node in proof}
    return bytes(HexaryTrie(nodes, root).get(keccak256(key)))


def test_account_and_storage_proofs_verify(chain: DictChain) -> None:
    init_code, _ = store_contract()
    executed = chain.mine([sign(0, 0, to=None, data=init_code + word(7), gas=500_000)])
    contract = executed.receipts[0].contract_address
    assert contract is not None
    head = chain.head
    proof = chain.engine.get_proof(contract, [0, 1], head)
    assert proof.nonce == 1 and proof.balance == 0
    assert proof.code_hash == keccak256(chain.engine.get_code(contract, head))
    assert keccak256(proof.account_proof[0]) == head.state_root
    account = rlp.decode(proven_value(head.state_root, contract, proof.account_proof))
    assert account[2] == proof.storage_hash and account[3] == proof.code_hash
    seven, empty = proof.storage_proof
    assert (seven.key, seven.value, empty.key, empty.value) == (0, 7, 1, 0)
    assert rlp.decode(proven_value(proof.storage_hash, word(0), seven.proof)) == b"\x07"
    assert proven_value(proof.storage_hash, word(1), empty.proof) == b""


def test_proof_of_a_funded_and_of_an_absent_account(chain: DictChain) -> None:
    head = chain.head
    funded = chain.engine.get_proof(ADDRS[0], [], head)
    assert funded.balance == 1000 * ETHER and funded.storage_proof == ()
    absent = chain.engine.get_proof(b"\x55" * 20, [3], head)
    assert (absent.balance, absent.nonce) == (0, 0)
    assert absent.code_hash == keccak256(b"")
    assert absent.storage_hash == keccak256(rlp.encode(b""))
    assert proven_value(head.state_root, b"\x55" * 20, absent.account_proof) == b""
    assert absent.storage_proof[0].value == 0 and absent.storage_proof[0].proof == ()
