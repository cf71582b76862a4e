"""`peerchain node`: run one node of a BFT network from a node.toml."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from peerchain.cli import eventloop
from peerchain.cli.config import NodeConfig, load_node_config, read_hex_key
from peerchain.cli.init import read_genesis_file
from peerchain.cli.logs import announce, json_logs, log_format_option, use_log_format
from peerchain.cli.progress import SyncProgress
from peerchain.cli.queries import start_queries
from peerchain.core.consensus.validators import ValidatorSet
from peerchain.core.genesis import parse_genesis
from peerchain.drivers.clock import SystemClock
from peerchain.drivers.net import (
    FileAddressBook,
    TcpTransport,
    TransportConfig,
    load_or_create_node_key,
)
from peerchain.drivers.signstate import LastSignedFile, last_signed_path
from peerchain.drivers.storage import LmdbStore
from peerchain.drivers.txjournal import JOURNAL_FILE, TxJournalFile
from peerchain.drivers.wal import WalFile
from peerchain.explorer import STATIC_DIR
from peerchain.node.integrity import check_head
from peerchain.node.ledger import Ledger
from peerchain.node.metrics import NodeMetrics
from peerchain.node.network import Network, NetworkConfig
from peerchain.node.traffic import MeteredTransport, meter_bans
from peerchain.node.validator import ConsensusNode
from peerchain.rpc.peerchain import register_network_methods
from peerchain.rpc.server import RpcConfig, serve, serve_operator


@click.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The node's node.toml.",
)
@log_format_option
def node(config_path: Path, log_format: str) -> None:
    """Run a validator or observer node of a BFT network."""
    use_log_format(log_format)
    eventloop.tune_gc()
    eventloop.run(run_node(load_node_config(config_path)))


async def run_node(config: NodeConfig) -> None:
    """Open the chain, join the network, serve JSON-RPC; stop on SIGINT/SIGTERM."""
    genesis = parse_genesis(read_genesis_file(config.genesis))
    if not genesis.validators:
        raise click.ClickException(f"{config.genesis} names no validators")
    try:
        ValidatorSet(genesis.validators)
    except ValueError as exc:
        raise click.ClickException(f"{config.genesis}: {exc}") from None
    key = read_hex_key(config.validator_key) if config.validator_key else None
    clock = SystemClock()
    store = LmdbStore(config.datadir / "chain")
    try:
        ledger = Ledger(store, genesis)
        check_head(ledger, certified=True)
        identity = load_or_create_node_key(config.datadir / "node.key")
        metrics = NodeMetrics()
        transport = MeteredTransport(
            TcpTransport(
                identity,
                TransportConfig(listen_host=config.listen_host, listen_port=config.listen_port),
            ),
            metrics,
        )
        network = Network(
            identity,
            NetworkConfig(
                chain_id=genesis.chain_id,
                genesis_hash=ledger.engine.genesis_hash,
                advertise_host=config.advertise,
                bootstrap=config.bootstrap,
                persistent=config.persistent,
                dial_interval=1.0,
                backoff_base=0.5,
                backoff_max=10.0,
                pex_interval=5.0,
            ),
            transport,
            FileAddressBook(config.datadir / "peers.json"),
            clock,
            height=ledger.head.number,
        )
        meter_bans(network, metrics)
        wal = WalFile(config.datadir / "consensus.wal")
        signer = None
        if config.validator_key is not None:
            signer = LastSignedFile(last_signed_path(config.validator_key))
        queries = await start_queries(ledger, config.datadir / "chain", config.queries)
        node = ConsensusNode(
            ledger,
            clock,
            network,
            wal,
            genesis.timeouts,
            key,
            signer=signer,
            metrics=metrics,
            queries=queries,
        )
        restored = node.restore_journal(TxJournalFile(config.datadir / JOURNAL_FILE))
        if restored:
            announce(f"{restored} pending transactions restored from the journal")
        with SyncProgress(node, enabled=not json_logs()):
            await node.start()
            server = await serve(
                node,
                RpcConfig(
                    host=config.rpc_host,
                    port=config.rpc_port,
                    cors_origins=config.cors,
                    dev_methods=False,
                ),
                explorer_dir=STATIC_DIR,
                metrics=metrics,
            )
            register_network_methods(server, node, admin=config.admin_rpc)
            operator = None
            if config.metrics is not None:
                host, port = config.metrics
                operator = await serve_operator(node, metrics, host, port)
            # Set before the banner: whoever waits for it may stop us at once.
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            role = f"validator 0x{node.address.hex()}" if node.address else "observer"
            announce(
                f"PeerChain node {network.address} ({role}), chain id {genesis.chain_id}, "
                f"head block {ledger.head.number}"
            )
            announce(f"JSON-RPC: http://{config.rpc_host}:{server.port}")
            announce(f"Explorer: http://{config.rpc_host}:{server.port}/")
            if operator is not None and config.metrics is not None:
                announce(f"Metrics: http://{config.metrics[0]}:{operator.port}/metrics")
            await stop.wait()
            if operator is not None:
                await operator.close()
            await queries.close()  # cuts off calls still running
            await server.close()
            await node.stop()
    finally:
        store.close()
    announce("stopped")
