"""`MemoryWal`: the consensus WAL of `node.ports.ConsensusWal` in memory, in the same
record format as the file WAL, with the torn tail a crash can leave."""

from __future__ import annotations

import random

from peerchain.core.consensus.wal import WalRecord, decode_wal, encode_wal_record


class MemoryWal:
    """A WAL over a bytearray that outlives the node using it (its "disk")."""

    def __init__(self, data: bytearray) -> None:
        self.data = data
        self.torn_bytes_dropped = 0

    def records(self) -> list[WalRecord]:
        """Every intact record; a torn tail is cut off (and counted)."""
        wal = decode_wal(bytes(self.data))
        if wal.discarded:
            self.torn_bytes_dropped += wal.discarded
            del self.data[wal.valid_length :]
        return list(wal.records)

    def append(self, record: WalRecord) -> None:
        self.data += encode_wal_record(record)

    def prune(self, below_height: int) -> None:
        kept = [r for r in self.records() if r.height >= below_height]
        self.data[:] = b"".join(encode_wal_record(r) for r in kept)

    def close(self) -> None:
        pass

    def tear(self, rng: random.Random) -> None:
        """Leave half a record at the end, as a power cut during an append does."""
        claimed = rng.randint(1, 300)
        frame = claimed.to_bytes(4, "big") + rng.randbytes(4 + claimed)
        self.data += frame[: rng.randint(1, len(frame) - 1)]
