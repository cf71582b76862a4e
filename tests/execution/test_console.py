"""Hardhat's console.log: calldata decoded as Hardhat prints it; built blocks collect it and
the dev node logs it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import vyper

from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.drivers.storage import LmdbStore
from peerchain.execution.tracing.console import SIGNATURES, ConsoleLines, decode_console_call
from peerchain.node.devnode import DevNode
from peerchain.node.ledger import Ledger
from peerchain.node.view import CallRequest, ExecutionReverted

from .conftest import ADDRS, DictChain, sign, word

SOURCE = (Path(__file__).resolve().parents[1] / "contracts" / "Console.vy").read_text()


def _call(signature: str, *heads: bytes, tail: bytes = b"") -> bytes:
    return keccak256(signature.encode())[:4] + b"".join(heads) + tail


def _string(text: str) -> bytes:
    raw = text.encode()
    return word(len(raw)) + raw.ljust((len(raw) + 31) // 32 * 32, b"\0")


def test_every_console_sol_signature_is_known() -> None:
    # log(): 1, one argument: 4 + 34 + 38 named, two to four: 16 + 64 + 256; plus the
    # old `uint`/`int` spellings of the ones that have them
    assert keccak256(b"log(uint)")[:4] in SIGNATURES
    assert keccak256(b"log(address,uint256,bool,string)")[:4] in SIGNATURES
    assert keccak256(b"logBytes32(bytes32)")[:4] in SIGNATURES
    assert len({types for types in SIGNATURES.values()}) == 1 + 38 + 16 + 64 + 256


def test_values_are_printed_as_hardhat_prints_them() -> None:
    assert decode_console_call(_call("log()")) == ""
    assert decode_console_call(_call("log(int256)", word(2**256 - 5))) == "-5"
    assert decode_console_call(_call("log(bool,bool)", word(1), word(0))) == "true false"
    address = bytes.fromhex("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
    assert (
        decode_console_call(_call("log(address)", word(int.from_bytes(address, "big"))))
        == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    )
    assert decode_console_call(_call("logBytes2(bytes2)", b"\xab\xcd" + bytes(30))) == "0xabcd"
    text = _call("log(string,uint256)", word(64), word(7), tail=_string("got %d tokens"))
    assert decode_console_call(text) == "got 7 tokens"
    extra = _call("log(string,uint256)", word(64), word(7), tail=_string("count"))
    assert decode_console_call(extra) == "count 7"
    percent = _call("log(string,string)", word(64), word(128), tail=_string("%s!") + _string("hi"))
    assert decode_console_call(percent) == "hi!"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01\x02\x03\x04",
        keccak256(b"log(uint256)")[:4] + b"\x01",  # truncated argument
        keccak256(b"log(string)")[:4] + word(2**200),  # offset out of range
        keccak256(b"log(string)")[:4] + word(32) + word(10**9),  # length out of range
    ],
)
def test_malformed_calldata_is_not_a_console_line(data: bytes) -> None:
    assert decode_console_call(data) is None


def test_console_lines_are_bounded() -> None:
    lines = ConsoleLines(limit=10)
    for text in ("12345", "678901", "abcde", "f"):
        lines.append(text)
    assert lines.lines() == ("12345", "abcde", "(2 more console.log lines not shown)")
    unbounded = ConsoleLines()
    unbounded.append("kept")
    unbounded.stop()
    unbounded.append("after the stop")
    assert unbounded.lines() == ("kept",)


def test_console_calldata_past_its_bound_is_counted_not_decoded() -> None:
    # A word prints as little as one character: the text limit alone would let a contract
    # have megabytes of calldata decoded for nothing; reading stops at 8 bytes per char.
    lines = ConsoleLines(limit=10)
    zero = _call("log(uint256)", word(0))  # 36 bytes, one character
    lines.take(zero)
    lines.take(zero)
    lines.take(_call("log(string)", word(32), tail=_string("x" * 40)))  # 100 bytes: too many
    lines.take(b"\x00" * 8)  # not a console call: read, nothing kept
    assert lines.lines() == ("0", "0", "(1 more console.log lines not shown)")


def _contract(function: str = "greet") -> tuple[bytes, bytes]:
    out = vyper.compile_code(SOURCE, output_formats=["bytecode", "method_identifiers"])
    return bytes.fromhex(out["bytecode"][2:]), bytes.fromhex(
        out["method_identifiers"][f"{function}(uint256)"][2:]
    )


def test_built_blocks_collect_console_lines(chain: DictChain) -> None:
    code, greet = _contract()
    deployed = chain.mine([sign(0, 0, to=None, data=code, gas=300_000)])
    address = deployed.receipts[0].contract_address
    assert address is not None
    executed = chain.mine([sign(1, 0, to=address, data=greet + word(5), gas=100_000)])
    expected = f"sent 5 wei to 0x{ADDRS[1].hex()}"
    assert [line.lower() for line in executed.console] == [expected.lower()]
    assert executed.receipts[0].status == 1


class Clock:
    def now(self) -> float:
        return 1_760_000_000.0


KEY = bytes([9]) * 32
SENDER = private_key_to_address(KEY)


@contextmanager
def _dev_node(tmp_path: Path) -> Iterator[DevNode]:
    """An automining dev node over LMDB whose one account is SENDER."""
    lmdb = LmdbStore(tmp_path / "lmdb")
    try:
        yield DevNode(
            Ledger(lmdb, dev_genesis(1337, [SENDER], 10**24)), Clock(), [KEY], automine=True
        )
    finally:
        lmdb.close()


def test_dev_node_logs_console_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sender = SENDER
    with _dev_node(tmp_path) as node:
        code, greet = _contract()
        asyncio.run(node.send_transaction(CallRequest(sender=sender, data=code)))
        receipt = node.get_block_receipts(node.ledger.head.hash)[0]
        with caplog.at_level(logging.INFO, logger="peerchain.console"):
            call = CallRequest(sender=sender, to=receipt.contract_address, data=greet + word(12))
            asyncio.run(node.send_transaction(call))
        lines = [r.getMessage() for r in caplog.records if r.name == "peerchain.console"]
        assert [line.lower() for line in lines] == [f"sent 12 wei to 0x{sender.hex()}"]


def test_dev_node_logs_console_lines_of_calls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In process (the queries run inline): a call's lines are logged once, also when it
    reverts; an estimate logs those of one run, not of each of its trials."""
    sender = SENDER
    with _dev_node(tmp_path) as node:
        code, greet = _contract()
        _, fail = _contract("greet_and_fail")
        asyncio.run(node.send_transaction(CallRequest(sender=sender, data=code)))
        address = node.get_block_receipts(node.ledger.head.hash)[0].contract_address
        head = node.ledger.head
        with caplog.at_level(logging.INFO, logger="peerchain.console"):
            asyncio.run(
                node.call(CallRequest(sender=sender, to=address, data=greet + word(1)), head)
            )
            with pytest.raises(ExecutionReverted, match="refused"):
                call = CallRequest(sender=sender, to=address, data=fail + word(2))
                asyncio.run(node.call(call, head))
            request = CallRequest(sender=sender, to=address, data=greet + word(3))
            assert asyncio.run(node.estimate_gas(request, head)) > 21_000
        lines = [r.getMessage() for r in caplog.records if r.name == "peerchain.console"]
        assert [line.lower() for line in lines] == [
            f"sent {amount} wei to 0x{sender.hex()}" for amount in (1, 2, 3)
        ]
