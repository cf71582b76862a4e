"""Build a small dev chain, and probe a (possibly damaged) copy of it in a child process.

`build_chain(datadir)` mines blocks with transfers and a contract that keeps a value in
storage, and returns what a healthy node answers (`Answers`). `probe(datadir)` runs this
file as a script on the directory: it opens the store the way `peerchain dev` does
(start-up integrity check included) and asks the same questions. The child prints JSON:
{"refused": line} when the node refuses to start, else {"answers": ..., "faults": n} with
each answer either the value or "FAULT: <line>". A crash (a signal, a traceback) shows
as a non-zero exit status with its output.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from peerchain.core.crypto import private_key_to_address
from peerchain.core.faults import LocalFaultError
from peerchain.core.genesis import dev_genesis
from peerchain.core.transactions import UnsignedTransaction, sign_transaction
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.storage import LmdbStore
from peerchain.node.devnode import DevNode
from peerchain.node.integrity import check_head
from peerchain.node.ledger import Ledger
from peerchain.node.ports import StorageError
from peerchain.node.view import CallRequest

KEYS = dev_private_keys(4)
ADDRESSES = [private_key_to_address(k) for k in KEYS]
GENESIS = dev_genesis(1337, ADDRESSES, 10**22)
# Stores 42 in slot 0; its code returns slot 0.
RUNTIME = bytes.fromhex("60005460005260206000f3")
INIT = bytes.fromhex("602a600055600b6011600039600b6000f3") + RUNTIME


class FixedClock:
    def __init__(self) -> None:
        self.time = 1_700_000_000.0

    def now(self) -> float:
        self.time += 1
        return self.time


def open_node(datadir: Path) -> DevNode:
    """Open a dev node on `datadir` as `peerchain dev` does. Raises StorageError."""
    ledger = Ledger(LmdbStore(datadir / "chain"), GENESIS)
    check_head(ledger, certified=False)
    return DevNode(ledger, FixedClock(), KEYS, automine=True)


def raw_tx(key: bytes, nonce: int, to: bytes | None, value: int, data: bytes = b"") -> bytes:
    unsigned = UnsignedTransaction(
        type=2,
        chain_id=1337,
        nonce=nonce,
        gas_limit=200_000,
        max_fee_per_gas=10**10,
        max_priority_fee_per_gas=10**9,
        to=to,
        value=value,
        data=data,
    )
    return sign_transaction(unsigned, key).raw


def build_chain(datadir: Path, blocks: int = 30) -> dict[str, Any]:
    """Mine `blocks` blocks (one transaction each, the first deploys the contract) and
    return the healthy node's answers."""
    node = open_node(datadir)
    node.send_raw_transaction(raw_tx(KEYS[0], 0, None, 0, INIT))
    for i in range(1, blocks):
        sender = i % 3
        nonce = node.get_pending_nonce(ADDRESSES[sender])
        node.send_raw_transaction(raw_tx(KEYS[sender], nonce, ADDRESSES[3], 10**18 + i))
    answers = ask(node)
    node.ledger.store.close()
    return answers


def ask(node: DevNode) -> dict[str, Any]:
    """Every answer the probe compares: blocks, receipts, balances, nonces, code, storage
    and a call, each value or "FAULT: ..." when the node reports a local fault."""
    answers: dict[str, Any] = {}
    contract = _contract_address(node)
    head = node.ledger.head

    def put(name: str, question: Any) -> None:
        try:
            answers[name] = question()
        except LocalFaultError as exc:
            answers[name] = "FAULT: " + exc.fault.line()

    put("head", lambda: head.number)
    for number in range(head.number + 1):
        put(f"block {number}", lambda n=number: _block(node, n))
    for i, address in enumerate(ADDRESSES):
        put(f"balance {i}", lambda a=address: node.get_balance(a, head))
        put(f"nonce {i}", lambda a=address: node.get_nonce(a, head))
    if contract is not None:
        put("code", lambda: node.get_code(contract, head).hex())
        put("storage", lambda: node.get_storage(contract, 0, head).hex())
        request = CallRequest(to=contract)
        put("call", lambda: asyncio.run(node.call(request, head)).hex())
    return answers


def _block(node: DevNode, number: int) -> Any:
    block = node.get_block_by_number(number)
    if block is None:
        return None
    receipts = node.get_block_receipts(block.hash)
    return {
        "hash": block.hash.hex(),
        "txs": [tx.hash.hex() for tx in block.transactions],
        "receipts": [[r.status, r.gas_used, r.contract_address and r.contract_address.hex()]
                     for r in receipts],
    }  # fmt: skip


def _contract_address(node: DevNode) -> bytes | None:
    try:
        block = node.get_block_by_number(1)
        return None if block is None else node.get_block_receipts(block.hash)[0].contract_address
    except LocalFaultError:
        return None


def probe(datadir: Path, timeout: float = 120) -> tuple[int, dict[str, Any] | None, str]:
    """Run the probe in a child process: (exit status, its JSON or None, its output)."""
    done = subprocess.run(
        [sys.executable, __file__, str(datadir)],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    try:
        result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = None
    return done.returncode, result, output


def _main(datadir: Path) -> None:
    try:
        node = open_node(datadir)
    except StorageError as exc:
        print(json.dumps({"refused": str(exc)}))
        return
    except LocalFaultError as exc:
        print(json.dumps({"refused": exc.fault.line()}))
        return
    answers = ask(node)
    faults = sum(1 for v in answers.values() if isinstance(v, str) and v.startswith("FAULT"))
    fault = node.fault()
    line = None if fault is None else fault.line()
    print(json.dumps({"answers": answers, "faults": faults, "fault": line}))


if __name__ == "__main__":
    _main(Path(sys.argv[1]))
