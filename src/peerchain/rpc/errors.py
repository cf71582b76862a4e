"""JSON-RPC error objects and the translation of node errors into them.

`RpcError` is what a handler raises to answer with a JSON-RPC error. `to_rpc_error`
maps everything else: `PeerChainError` subclasses get the codes and messages geth
gives, a `LocalFaultError` (the node's own damaged data or failed disk) is -32603 with
the fault's one-line message, and any other exception becomes a bare -32603 (logged
with its traceback here, never sent to the client).
"""

from __future__ import annotations

import logging
from typing import Any

from peerchain.core.errors import PeerChainError
from peerchain.core.simulate import SimulateError
from peerchain.node.view import (
    ExecutionReverted,
    LocalFaultError,
    QueryLimitExceeded,
    UnknownBlock,
)

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
LIMIT_EXCEEDED = -32005
EXECUTION_REVERTED = 3

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

# Solidity panic codes, worded as geth words them.
PANIC_REASONS = {
    0x00: "generic panic",
    0x01: "assert(false)",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory",
    0x51: "uninitialized function",
}


class RpcError(Exception):
    """A JSON-RPC error answer: `code`, `message` and optional `data`."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def server_error(message: str) -> RpcError:
    return RpcError(SERVER_ERROR, message)


def decode_revert_reason(data: bytes) -> str | None:
    """The human reason in revert data: an Error(string) text or a Panic description."""
    if data[:4] == ERROR_SELECTOR and len(data) >= 68:
        body = data[4:]
        offset = int.from_bytes(body[0:32], "big")
        if offset + 32 > len(body):
            return None
        length = int.from_bytes(body[offset : offset + 32], "big")
        if offset + 32 + length > len(body):
            return None
        try:
            return body[offset + 32 : offset + 32 + length].decode("utf-8")
        except UnicodeDecodeError:
            return None
    if data[:4] == PANIC_SELECTOR and len(data) == 36:
        code = int.from_bytes(data[4:], "big")
        return PANIC_REASONS.get(code, f"unknown panic code: {code:#x}")
    return None


def reverted_error(data: bytes) -> RpcError:
    """Code 3 "execution reverted[: reason]" with the raw revert data, as geth answers."""
    reason = decode_revert_reason(data)
    message = "execution reverted" if reason is None else f"execution reverted: {reason}"
    return RpcError(EXECUTION_REVERTED, message, "0x" + data.hex())


def to_rpc_error(exc: BaseException) -> RpcError:
    """Translate any exception raised by a handler into the error sent to the client."""
    if isinstance(exc, RpcError):
        return exc
    if isinstance(exc, ExecutionReverted):
        return reverted_error(exc.data)
    if isinstance(exc, LocalFaultError):
        # The node's own data or disk failed: not the client's fault, and the one line
        # tells the client (and the operator in the log) what is wrong and what to do.
        return RpcError(INTERNAL_ERROR, exc.fault.line())
    if isinstance(exc, SimulateError):
        return RpcError(exc.code, str(exc))
    if isinstance(exc, QueryLimitExceeded):
        return RpcError(LIMIT_EXCEEDED, str(exc))
    if isinstance(exc, UnknownBlock):
        return server_error(str(exc) or "header not found")
    if isinstance(exc, PeerChainError):
        # InvalidTransaction (geth's pool messages), DecodeError ("rlp: ..."),
        # ExecutionFailed ("out of gas", ...) and dev-mode refusals are all -32000.
        return server_error(str(exc) or type(exc).__name__)
    log.error("internal error answering a JSON-RPC request", exc_info=exc)
    return RpcError(INTERNAL_ERROR, "internal error")
