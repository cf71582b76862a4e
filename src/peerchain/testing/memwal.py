"""`MemoryWal`: the consensus WAL of `node.ports.ConsensusWal` in memory, in the same
record format as the file WAL, with the torn tail a crash can leave and the damage an
operator may find; `MemorySigner`: the `node.ports.SignerState` twin."""

from __future__ import annotations

import random
from enum import Enum

from peerchain.core.consensus.signguard import LastSigned, last_signed_of, sign_conflict
from peerchain.core.consensus.wal import WalRecord, decode_wal, encode_wal_record
from peerchain.core.errors import ConsensusHalted


class WalDamage(Enum):
    """What may happen to a WAL besides a torn tail."""

    DELETED = "deleted"  # the file is gone
    CUT = "cut"  # cut inside its first record
    FLIPPED = "flipped"  # one byte of its first record flipped, intact records after it


class MemoryWal:
    """A WAL over a bytearray that outlives the node using it (its "disk")."""

    def __init__(self, data: bytearray) -> None:
        self.data = data
        self.torn_bytes_dropped = 0

    def records(self) -> list[WalRecord]:
        """Every intact record; a torn tail is cut off (and counted). Raises WalCorrupted
        for damage that is not a torn tail."""
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

    def damage(self, how: WalDamage, rng: random.Random) -> None:
        """Delete the WAL, cut it inside its first record, or flip a byte of that record."""
        if how is WalDamage.DELETED:
            self.data.clear()
        elif how is WalDamage.CUT and len(self.data) > 8:
            del self.data[rng.randint(1, min(len(self.data), 100) - 1) :]
        elif how is WalDamage.FLIPPED and len(self.data) > 20:
            self.data[20] ^= 0x01  # inside the first record's payload


class MemorySigner:
    """The last-signed record in memory (it outlives the node, like its file)."""

    def __init__(self) -> None:
        self.last: LastSigned | None = None

    def save(self, record: WalRecord) -> None:
        """Keep the record of a signed message. Raises ConsensusHalted (the real signer's
        LocalFaultError) for one that conflicts with or goes back behind the last."""
        new = last_signed_of(record)
        conflict = sign_conflict(self.last, new)
        if conflict is not None:
            raise ConsensusHalted(f"the signer refused a {conflict}")
        self.last = new
