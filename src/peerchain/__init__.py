"""PeerChain: a blockchain node in Python."""

import os

# eth-hash (py-evm's, eth-utils' and our keccak) picks its backend from this variable
# at its first hash; its own default, pycryptodome, costs about 7x more per call than
# safe-pysha3's C keccak, and the block path hashes a dozen times per transaction.
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

__version__ = "0.1.0"
