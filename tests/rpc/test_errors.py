"""Node errors become the JSON-RPC errors geth gives; revert reasons are decoded."""

from __future__ import annotations

import logging

import pytest

from peerchain.core.errors import (
    DecodeError,
    InsufficientFunds,
    NonceTooLow,
    PeerChainError,
    ReplacementUnderpriced,
)
from peerchain.core.faults import LocalFaultError, corrupted
from peerchain.node.view import ExecutionFailed, ExecutionReverted, UnknownBlock
from peerchain.rpc.errors import (
    EXECUTION_REVERTED,
    INTERNAL_ERROR,
    SERVER_ERROR,
    RpcError,
    decode_revert_reason,
    to_rpc_error,
)

from .openrpc import SPEC_ROOT, load_io


def _error_string(text: str) -> bytes:
    body = text.encode()
    padded = body + b"\x00" * (-len(body) % 32)
    return (
        bytes.fromhex("08c379a0")
        + (32).to_bytes(32, "big")
        + len(body).to_bytes(32, "big")
        + padded
    )


def test_rejected_transactions_are_32000_with_the_geth_message() -> None:
    for exc in (
        NonceTooLow("0xabc", 1, 2),
        InsufficientFunds("0xabc", 1, 2),
        ReplacementUnderpriced(),
    ):
        error = to_rpc_error(exc)
        assert (error.code, error.message) == (SERVER_ERROR, str(exc))
        assert error.data is None
    assert to_rpc_error(NonceTooLow("0xabc", 1, 2)).message.startswith("nonce too low")


def test_decode_and_execution_failures_are_32000() -> None:
    assert to_rpc_error(
        DecodeError("rlp: value size exceeds available input length")
    ).to_json() == {
        "code": SERVER_ERROR,
        "message": "rlp: value size exceeds available input length",
    }
    assert to_rpc_error(ExecutionFailed("out of gas")).message == "out of gas"
    assert to_rpc_error(UnknownBlock("header not found")).code == SERVER_ERROR
    assert to_rpc_error(PeerChainError("not in dev mode")).message == "not in dev mode"


def test_revert_is_code_3_with_reason_and_data() -> None:
    data = _error_string("not enough tokens")
    error = to_rpc_error(ExecutionReverted("execution reverted", data)).to_json()
    assert error == {
        "code": EXECUTION_REVERTED,
        "message": "execution reverted: not enough tokens",
        "data": "0x" + data.hex(),
    }


def test_revert_without_reason() -> None:
    error = to_rpc_error(ExecutionReverted("execution reverted", b"")).to_json()
    assert error == {"code": 3, "message": "execution reverted", "data": "0x"}
    custom = bytes.fromhex("deadbeef") + bytes(32)
    assert to_rpc_error(ExecutionReverted("x", custom)).message == "execution reverted"


def test_panic_codes_and_broken_payloads() -> None:
    panic = bytes.fromhex("4e487b71") + (0x11).to_bytes(32, "big")
    assert decode_revert_reason(panic) == "arithmetic underflow or overflow"
    assert decode_revert_reason(bytes.fromhex("4e487b71") + (0x99).to_bytes(32, "big")) == (
        "unknown panic code: 0x99"
    )
    broken = _error_string("hi")[:-40]
    assert decode_revert_reason(broken) is None
    huge_offset = bytes.fromhex("08c379a0") + (2**200).to_bytes(32, "big") + bytes(32)
    assert decode_revert_reason(huge_offset) is None
    bad_utf8 = bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (1).to_bytes(32, "big")
    assert decode_revert_reason(bad_utf8 + b"\xff" + bytes(31)) is None


@pytest.mark.parametrize(
    "path",
    [
        "eth_call/call-revert-abi-error.io",
        "eth_call/call-revert-abi-panic.io",
        "eth_estimateGas/estimate-call-abi-error.io",
        "eth_estimateGas/estimate-failed-call.io",
    ],
)
def test_recorded_revert_answers_are_reproduced(path: str) -> None:
    [(_, response)] = load_io(SPEC_ROOT / "tests" / path)
    recorded = response["error"]
    data = bytes.fromhex(recorded["data"][2:])
    assert to_rpc_error(ExecutionReverted("execution reverted", data)).to_json() == recorded


def test_unexpected_exceptions_are_internal_errors_without_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="peerchain.rpc.errors"):
        error = to_rpc_error(KeyError("secret internal detail"))
    assert error.to_json() == {"code": INTERNAL_ERROR, "message": "internal error"}
    assert "secret internal detail" in caplog.text


def test_rpc_errors_pass_through() -> None:
    error = RpcError(-32602, "bad", {"x": 1})
    assert to_rpc_error(error) is error
    assert error.to_json() == {"code": -32602, "message": "bad", "data": {"x": 1}}


def test_local_faults_are_internal_errors_that_say_what_and_what_to_do() -> None:
    fault = corrupted("state record 0xabcd fails its checksum", "/data/chain/data.mdb")
    error = to_rpc_error(LocalFaultError(fault)).to_json()
    assert error["code"] == INTERNAL_ERROR
    assert error["message"] == fault.line()
    assert error["message"].startswith("local fault: corrupted data: state record 0xabcd")
    assert "resync from peers" in error["message"]
