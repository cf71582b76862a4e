"""`peerchain dev`: a single development node with prefunded accounts and JSON-RPC."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from peerchain.cli import eventloop
from peerchain.cli.logs import announce, json_logs, log_format_option, use_log_format
from peerchain.cli.queries import QuerySettings, query_options, start_queries
from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import Genesis, dev_genesis, parse_genesis
from peerchain.drivers.clock import SystemClock
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.storage import LmdbStore
from peerchain.drivers.txjournal import JOURNAL_FILE, TxJournalFile
from peerchain.explorer import STATIC_DIR
from peerchain.node.devnode import DevNode
from peerchain.node.integrity import check_head
from peerchain.node.ledger import Ledger
from peerchain.rpc.server import RpcConfig, serve

ETHER = 10**18
# The Hardhat release whose behaviour `--compat hardhat` follows (its network helpers
# accept a node whose web3_clientVersion starts with "HardhatNetwork").
HARDHAT_VERSION = "2.22.2"


def load_or_create_dev_genesis(
    datadir: Path, chain_id: int, addresses: list[bytes], balance_eth: int
) -> Genesis:
    """The dev chain's genesis, written to `<datadir>/genesis.json` on first start."""
    path = datadir / "genesis.json"
    if path.exists():
        return parse_genesis(json.loads(path.read_text()))
    genesis = dev_genesis(chain_id, addresses, balance_eth * ETHER, int(time.time()))
    datadir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(genesis.to_json(), indent=2))
    tmp.replace(path)
    return genesis


@click.command()
@click.option(
    "--datadir",
    type=click.Path(path_type=Path),
    default=Path(".peerchain/dev"),
    show_default=True,
    help="Where the chain is kept (LMDB).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="JSON-RPC listen address.")
@click.option("--port", default=8545, show_default=True, help="JSON-RPC port (HTTP and WS).")
@click.option("--chain-id", default=1337, show_default=True, help="Chain id of a new dev chain.")
@click.option(
    "--accounts",
    "n_accounts",
    default=10,
    show_default=True,
    help="Number of prefunded dev accounts.",
)
@click.option("--balance", default=10_000, show_default=True, help="Ether per dev account.")
@click.option(
    "--block-time",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds between blocks; 0 mines a block per transaction (automine).",
)
@click.option("--cors", "cors_origins", multiple=True, help="Allowed CORS origin (repeatable).")
@click.option(
    "--load-state",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Load the accounts of a state document (see --dump-state) into the head state.",
)
@click.option(
    "--dump-state",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the head state to this file as a state document when the node stops.",
)
@click.option(
    "--compat",
    type=click.Choice(["hardhat"]),
    default=None,
    help="Answer as Hardhat Network does where test suites check (see README).",
)
@log_format_option
@query_options
def dev(
    datadir: Path,
    host: str,
    port: int,
    chain_id: int,
    n_accounts: int,
    balance: int,
    block_time: float,
    cors_origins: tuple[str, ...],
    load_state: Path | None,
    dump_state: Path | None,
    compat: str | None,
    log_format: str,
    query_settings: QuerySettings,
) -> None:
    """Run a single development node with prefunded accounts."""
    use_log_format(log_format)
    keys = dev_private_keys(n_accounts)
    addresses = [private_key_to_address(k) for k in keys]
    genesis = load_or_create_dev_genesis(datadir, chain_id, addresses, balance)
    state = _read_state(load_state) if load_state is not None else None
    options = _Options(block_time, cors_origins, compat, state, dump_state, query_settings)
    eventloop.tune_gc()
    eventloop.run(_run(datadir, genesis, keys, host, port, options))


@dataclass(frozen=True, slots=True)
class _Options:
    block_time: float
    cors_origins: tuple[str, ...]
    compat: str | None
    load_state: Any
    dump_state: Path | None
    queries: QuerySettings


def _read_state(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read state document {path}: {exc}") from None


async def _run(
    datadir: Path,
    genesis: Genesis,
    keys: list[bytes],
    host: str,
    port: int,
    options: _Options,
) -> None:
    block_time = options.block_time
    # A dev chain trades the flush of each block to the disk for speed, as Hardhat and
    # Anvil keep theirs in memory: a crashed process loses nothing, a crashed machine
    # may lose the last blocks.
    store = LmdbStore(datadir / "chain", durable=False)
    try:
        ledger = Ledger(store, genesis, dev=True)
        check_head(ledger, certified=False)
        queries = await start_queries(ledger, datadir / "chain", options.queries, dev=True)
        node = DevNode(
            ledger,
            SystemClock(),
            keys,
            automine=block_time <= 0,
            block_time_ms=int(block_time * 1000),
            queries=queries,
        )
        if options.load_state is not None:
            node.load_state(options.load_state)
        if options.compat == "hardhat":
            node.client_version_override = f"HardhatNetwork/{HARDHAT_VERSION}/{node.client_version}"
        restored = node.restore_journal(TxJournalFile(datadir / JOURNAL_FILE))
        if restored:
            click.echo(f"{restored} pending transactions restored from the journal")
        server = await serve(
            node,
            RpcConfig(host=host, port=port, cors_origins=options.cors_origins),
            explorer_dir=STATIC_DIR,
            metrics=node.metrics,
        )
        # Set before the banner: whoever waits for it may stop us at once.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        _print_banner(node, keys, host, port, block_time)
        miner = asyncio.create_task(node.run())
        await stop.wait()
        miner.cancel()
        await queries.close()  # cuts off calls still running, so the server closes at once
        await server.close()
        if options.dump_state is not None:
            _write_state(options.dump_state, node.dump_state())
    finally:
        store.close()
    announce("stopped")


def _print_banner(
    node: DevNode, keys: list[bytes], host: str, port: int, block_time: float
) -> None:
    mode = f"a block every {block_time:g}s" if block_time > 0 else "automine"
    announce(f"PeerChain dev node, chain id {node.chain_id}, head block {node.block_number()}")
    announce(f"JSON-RPC: http://{host}:{port}  WebSocket: ws://{host}:{port}  ({mode})")
    announce(f"Explorer: http://{host}:{port}/")
    announce("Accounts (do not use these keys on any public network):")
    for i, key in enumerate(keys):
        announce(f"  ({i}) 0x{private_key_to_address(key).hex()}  key 0x{key.hex()}")
    if not json_logs():
        click.echo("")


def _write_state(path: Path, document: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=1))
    tmp.replace(path)
    announce(f"state written to {path}")
