"""Child processes tied to the life of the process that starts them."""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child before exec (Linux): be killed when the thread that started it ends,
    so that a parent killed outright leaves no child running."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def child_preexec() -> Callable[[], None] | None:
    """What to pass as `preexec_fn` to start a child that dies with its parent (None where
    the platform cannot)."""
    return die_with_parent if sys.platform == "linux" else None
