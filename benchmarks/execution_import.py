"""Execution throughput: ETH and ERC-20 transfers per second through the engine, one core.

Builds blocks with `ExecutionEngine.build_block` (the proposer's path: senders already
known from the mempool), then imports the same blocks on a fresh engine with
`execute_block` (the sync path: decode, recover senders, execute, validate), and once
more with the transactions already decoded (a validator's path: its mempool has them).
Stores are in-memory dicts; signing is done before timing. Rates are given per second
of this process's CPU time (one core, what the machine's other load does not change
much) and per second of wall time; the target is 1,500 ERC-20 transfers/s imported in
1,000-transfer blocks. Last, a dev chain's automine: blocks of one ERC-20 transfer
built one after the other, each read back by hash with its receipts (as the receipt poll
does), per CPU second. The garbage collector is set as a node process sets it
(`peerchain.cli.eventloop.tune_gc`, where the source tree has it).

    .venv/bin/python benchmarks/execution_import.py [--txs N] [--per-block M]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from eth_abi import encode
from signing import sign_call

from peerchain.cli.contracts import compile_vyper
from peerchain.core.blocks import Block
from peerchain.core.crypto import keccak256, private_key_to_address
from peerchain.core.genesis import dev_genesis
from peerchain.core.kv import apply_changes
from peerchain.core.transactions import Transaction
from peerchain.execution.engine import ExecutionEngine

ROOT = Path(__file__).resolve().parents[1]
CHAIN_ID = 1337
SENDERS = [keccak256(b"bench-%d" % i) for i in range(64)]
# Room for 1,000 ERC-20 transfers (about 35,000 gas each) in one block.
GAS_LIMIT = 60_000_000
IMPORT_TARGET = 1500


def _sign(
    key: bytes, nonce: int, to: bytes | None, data: bytes, gas: int, value: int
) -> Transaction:
    return sign_call(key, CHAIN_ID, nonce, to, data, gas, value)


class Bench:
    """A dict-backed chain whose blocks are built, then replayed on a fresh engine."""

    def __init__(self) -> None:
        genesis = dev_genesis(CHAIN_ID, [private_key_to_address(k) for k in SENDERS], 10**24)
        self.genesis = dataclasses.replace(genesis, gas_limit=GAS_LIMIT)
        self.store: dict[bytes, bytes] = {}
        self.engine = ExecutionEngine(self.store, self.genesis)
        apply_changes(self.store, self.engine.genesis_changes()[1])
        self.nonces = [0] * len(SENDERS)

    def next_nonce(self, sender: int) -> int:
        self.nonces[sender] += 1
        return self.nonces[sender] - 1

    def mine(self, txs: list[Transaction]) -> Block:
        head = self.engine.head()
        executed = self.engine.build_block(
            head, txs, timestamp=head.timestamp + 1, coinbase=b"\xc0" * 20
        )
        assert not executed.skipped, executed.skipped[:1]
        apply_changes(self.store, executed.changes)
        return executed.block

    def measure(self, txs: list[Transaction], per_block: int) -> dict[str, float]:
        before = dict(self.store)
        batches = [txs[i : i + per_block] for i in range(0, len(txs), per_block)]
        wall, cpu = time.perf_counter(), time.process_time()
        blocks = [self.mine(batch) for batch in batches]
        built, built_cpu = time.perf_counter() - wall, time.process_time() - cpu
        replay: dict[bytes, bytes] = dict(before)
        importer = ExecutionEngine(replay, self.genesis)
        wall, cpu = time.perf_counter(), time.process_time()
        for block in blocks:
            executed = importer.execute_block(block.rlp)
            apply_changes(replay, executed.changes)
        imported, imported_cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert importer.head().hash == blocks[-1].hash
        known = {tx.hash: tx for tx in txs}
        replay = dict(before)
        validator = ExecutionEngine(replay, self.genesis)
        cpu = time.process_time()
        for block in blocks:
            executed = validator.execute_block(block.rlp, known)
            apply_changes(replay, executed.changes)
        known_cpu = time.process_time() - cpu
        assert validator.head().hash == blocks[-1].hash
        return {
            "build_per_s": len(txs) / built,
            "build_per_cpu_s": len(txs) / built_cpu,
            "execute_per_s": len(txs) / imported,
            "execute_per_cpu_s": len(txs) / imported_cpu,
            "known_per_cpu_s": len(txs) / known_cpu,
        }


def eth_transfers(n: int, per_block: int) -> dict[str, float]:
    """Plain value transfers, round-robin over 64 senders to fresh recipients."""
    bench = Bench()
    txs = [
        _sign(
            SENDERS[i % 64], bench.next_nonce(i % 64), keccak256(b"to%d" % i)[:20], b"", 21_000, 1
        )
        for i in range(n)
    ]
    return bench.measure(txs, per_block)


def erc20_transfers(n: int, per_block: int) -> dict[str, float]:
    """ERC-20 `transfer` calls of examples/Token.vy from 64 funded holders."""
    bench = Bench()
    bytecode = compile_vyper(ROOT / "examples" / "Token.vy").bytecode
    args = encode(["string", "string", "uint256"], ["Bench", "BNC", 10**30])
    deploy = _sign(SENDERS[0], bench.next_nonce(0), None, bytecode + args, 3_000_000, 0)
    bench.mine([deploy])
    token = bench.engine.get_receipts(bench.engine.head().hash)[0].contract_address
    assert token is not None
    selector = keccak256(b"transfer(address,uint256)")[:4]

    def transfer(sender: int, to: bytes, amount: int) -> Transaction:
        data = selector + encode(["address", "uint256"], [to, amount])
        return _sign(SENDERS[sender], bench.next_nonce(sender), token, data, 100_000, 0)

    holders = [private_key_to_address(k) for k in SENDERS]
    bench.mine([transfer(0, holders[i], 10**24) for i in range(1, 64)])
    txs = [transfer(i % 64, keccak256(b"to%d" % i)[:20], 1) for i in range(n)]
    return bench.measure(txs, per_block)


def one_transfer_blocks(n: int) -> float:
    """Blocks of one ERC-20 transfer built in turn and read back, per CPU second."""
    bench = Bench()
    bytecode = compile_vyper(ROOT / "examples" / "Token.vy").bytecode
    args = encode(["string", "string", "uint256"], ["Bench", "BNC", 10**30])
    bench.mine([_sign(SENDERS[0], bench.next_nonce(0), None, bytecode + args, 3_000_000, 0)])
    token = bench.engine.get_receipts(bench.engine.head().hash)[0].contract_address
    assert token is not None
    selector = keccak256(b"transfer(address,uint256)")[:4]
    txs = [
        _sign(
            SENDERS[0],
            bench.next_nonce(0),
            token,
            selector + encode(["address", "uint256"], [keccak256(b"to%d" % i)[:20], 1]),
            100_000,
            0,
        )
        for i in range(n)
    ]
    cpu = time.process_time()
    for tx in txs:
        block = bench.mine([tx])
        assert bench.engine.get_block_by_hash(block.hash) is not None
        assert bench.engine.get_receipts(block.hash)[0].status == 1
    return n / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=2000, help="transfers per kind")
    parser.add_argument("--per-block", type=int, default=1000, help="transfers per block")
    parser.add_argument("--dev-blocks", type=int, default=300, help="one-transfer blocks")
    args = parser.parse_args()
    # The collector as a node process sets it (absent from older source trees).
    tune_gc = getattr(importlib.import_module("peerchain.cli.eventloop"), "tune_gc", None)
    if tune_gc is not None:
        tune_gc()
    kinds: dict[str, Callable[[int, int], dict[str, float]]] = {
        "ETH transfers": eth_transfers,
        "ERC-20 transfers": erc20_transfers,
    }
    print(f"{args.txs} transfers per kind, {args.per_block} per block; loadavg {os.getloadavg()}")
    print(
        f"{'':17s}{'build_block tx/s':>22s}{'execute_block tx/s':>24s}{'known txs':>11s}"
        "   (per CPU second / wall; known: per CPU second)"
    )
    erc20_import = 0.0
    for label, run in kinds.items():
        f = run(args.txs, args.per_block)
        print(
            f"{label:17s}{f['build_per_cpu_s']:>12.0f} /{f['build_per_s']:>7.0f}"
            f"{f['execute_per_cpu_s']:>16.0f} /{f['execute_per_s']:>7.0f}"
            f"{f['known_per_cpu_s']:>11.0f}"
        )
        erc20_import = f["execute_per_cpu_s"]
    verdict = "met" if erc20_import >= IMPORT_TARGET else "not met"
    print(f"ERC-20 block import {erc20_import:.0f}/s per core: target {IMPORT_TARGET} {verdict}")
    if args.dev_blocks:
        rate = one_transfer_blocks(args.dev_blocks)
        print(f"one-transfer ERC-20 blocks built and read back: {rate:.0f} per CPU second")
    print(f"loadavg at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
