"""Local faults: what went wrong with this node's own machine, as data.

A local fault is neither a client's nor a peer's doing: a record on disk that fails its
checksum or hash, a full disk, a permission or I/O error on a write, this node's own
execution disagreeing with a block that more than 2/3 of the voting power certified.
The node then fail-stops: it stops signing and producing blocks, refuses to serve the
data concerned (JSON-RPC -32603 with `LocalFault.line()`), reports the fault through
its view (`peerchain_consensusState`, health endpoints) and tells the operator, in one
line, what to do. A restart once the cause is gone resumes.

`FaultLatch` keeps the first fault reported (later ones are usually its consequences)
and calls the listeners that stop the node's activities.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from peerchain.core.errors import PeerChainError

RESYNC = (
    "stop the node, move its data directory aside and restart it to resync from peers, "
    "or restore a backup"
)
FREE_SPACE = "free space on that filesystem, then restart the node"
FIX_PERMISSIONS = "give the node's user write access to that path, then restart the node"
CHECK_DISK = "check the disk (dmesg, smartctl), then restart the node"


@dataclass(frozen=True, slots=True)
class LocalFault:
    """One local fault.

    `cause` is the class of fault ("corrupted data", "no space left on device",
    "permission denied", "I/O error", "state disagrees with the network"), `detail`
    what was being done and to which record or height, `path` the file concerned (if
    any), `action` the one-line instruction to the operator.
    """

    cause: str
    detail: str
    action: str
    path: str | None = None

    def line(self) -> str:
        """The whole fault in one line, for logs, RPC errors and health checks."""
        where = f" ({self.path})" if self.path else ""
        return f"local fault: {self.cause}: {self.detail}{where}; {self.action}"


class LocalFaultError(PeerChainError):
    """An operation failed because of a local fault (`fault`), not because of its input."""

    def __init__(self, fault: LocalFault) -> None:
        super().__init__(fault.line())
        self.fault = fault

    def __reduce__(self) -> tuple[type[LocalFaultError], tuple[LocalFault]]:
        return type(self), (self.fault,)  # a query worker's fault reaches the node whole


def corrupted(detail: str, path: str | None = None) -> LocalFault:
    """The fault of a damaged record (checksum or hash mismatch, missing record)."""
    return LocalFault("corrupted data", detail, RESYNC, path)


def os_fault(exc: OSError, detail: str, path: str | None = None) -> LocalFault:
    """The fault of a failed write, fsync or open, named by its errno."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return LocalFault("no space left on device", detail, FREE_SPACE, path)
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        name = "read-only file system" if code == errno.EROFS else "permission denied"
        return LocalFault(name, detail, FIX_PERMISSIONS, path)
    reason = exc.strerror or type(exc).__name__
    if code == errno.EIO:
        reason = "I/O error"
    return LocalFault(reason, detail, CHECK_DISK, path)


class FaultLatch:
    """The first local fault of a node, kept until the process ends."""

    def __init__(self) -> None:
        self._fault: LocalFault | None = None
        self._listeners: list[Callable[[LocalFault], None]] = []

    @property
    def current(self) -> LocalFault | None:
        """The fault that stopped the node, or None while it is healthy."""
        return self._fault

    def on_fault(self, listener: Callable[[LocalFault], None]) -> None:
        """Call `listener(fault)` when the first fault is reported (at once if one is)."""
        self._listeners.append(listener)
        if self._fault is not None:
            listener(self._fault)

    def report(self, fault: LocalFault) -> LocalFault:
        """Record `fault` if it is the first; return the fault in force."""
        if self._fault is None:
            self._fault = fault
            for listener in list(self._listeners):
                listener(fault)
        return self._fault

    def raise_fault(self, fault: LocalFault) -> LocalFaultError:
        """Report `fault` and return the error to raise for it."""
        self.report(fault)
        return LocalFaultError(fault)
