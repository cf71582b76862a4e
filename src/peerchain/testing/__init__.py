"""The public test kit: virtual time, a seeded network, simulated validator clusters, and
in-memory twins of the node's ports (`MemoryChainStore`, `memwal.MemoryWal`).

from peerchain.testing import run_cluster, random_faults
result = run_cluster(4, seed=1, faults=random_faults(4, 1, "equivocate"))
assert result.ok, result.describe()
"""

from peerchain.testing.clock import SimClock
from peerchain.testing.cluster import ClusterResult, run_cluster
from peerchain.testing.faults import (
    FAULT_KINDS,
    Behaviour,
    Crash,
    CrashProposer,
    Faults,
    random_faults,
)
from peerchain.testing.kvstore import KVApplication
from peerchain.testing.memstore import MemoryChainStore
from peerchain.testing.network import NetworkConfig, SimNetwork

__all__ = [
    "FAULT_KINDS",
    "Behaviour",
    "ClusterResult",
    "Crash",
    "CrashProposer",
    "Faults",
    "KVApplication",
    "MemoryChainStore",
    "NetworkConfig",
    "SimClock",
    "SimNetwork",
    "random_faults",
    "run_cluster",
]
