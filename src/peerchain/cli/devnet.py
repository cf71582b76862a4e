"""`peerchain devnet`: a local N-validator network, one process per validator.

The first run writes keys, a genesis and a node.toml per validator under `--dir`; later
runs resume from what is there. Logs go to `<dir>/node<i>/node.log`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from peerchain.cli.dev import ETHER
from peerchain.core.crypto import private_key_to_address
from peerchain.core.genesis import ConsensusTimeouts, dev_genesis
from peerchain.drivers.keystore import dev_private_keys
from peerchain.drivers.net import load_or_create_node_key

DEVNET_TIMEOUTS = ConsensusTimeouts(
    propose_ms=1000,
    propose_delta_ms=500,
    prevote_ms=500,
    prevote_delta_ms=500,
    precommit_ms=500,
    precommit_delta_ms=500,
    commit_ms=1000,
)


@dataclass(frozen=True, slots=True)
class DevnetNode:
    index: int
    directory: Path
    config: Path
    rpc_url: str
    p2p_address: str


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)


def create_devnet(
    directory: Path,
    n: int,
    *,
    chain_id: int = 1337,
    p2p_port: int = 26656,
    rpc_port: int = 8545,
    observers: int = 0,
    hosts: Sequence[str] = (),
) -> list[DevnetNode]:
    """Write (or read back) the files of an n-validator local network plus `observers`
    non-validating nodes; return the nodes. Ports are p2p_port + i and rpc_port + i; node
    i listens on `hosts[i]` (default 127.0.0.1). Validators keep reconnecting to each
    other; an observer is given only node 0 to start from and finds the rest by peer
    exchange."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "devnet.json"
    if manifest.exists():
        return [
            DevnetNode(
                d["index"], Path(d["directory"]), Path(d["config"]), d["rpc_url"], d["p2p_address"]
            )
            for d in json.loads(manifest.read_text())
        ]
    validator_keys = [os.urandom(32) for _ in range(n)]
    dev_accounts = [private_key_to_address(k) for k in dev_private_keys(10)]
    # Validator addresses are funded too: they pay for their governance votes.
    validator_addresses = [private_key_to_address(k) for k in validator_keys]
    base = dev_genesis(chain_id, dev_accounts + validator_addresses, 10_000 * ETHER)
    genesis = base.to_json()
    genesis["peerchain"] = {
        "validators": [
            {"address": "0x" + address.hex(), "power": 10} for address in validator_addresses
        ],
        "timeouts": {
            name: getattr(DEVNET_TIMEOUTS, name) for name in DEVNET_TIMEOUTS.__dataclass_fields__
        },
    }
    (directory / "genesis.json").write_text(json.dumps(genesis, indent=2))
    if hosts and len(hosts) != n + observers:
        raise ValueError(f"{len(hosts)} hosts for {n + observers} nodes")
    host_of = list(hosts) or ["127.0.0.1"] * (n + observers)
    nodes: list[DevnetNode] = []
    for i in range(n + observers):
        node_dir = directory / f"node{i}"
        data = node_dir / "data"
        identity = load_or_create_node_key(data / "node.key")
        address = f"peerchain://{identity.node_id.hex()}@{host_of[i]}:{p2p_port + i}"
        nodes.append(
            DevnetNode(
                i, node_dir, node_dir / "node.toml", f"http://{host_of[i]}:{rpc_port + i}", address
            )
        )
    for node in nodes:
        validator = node.index < n
        peers = [f'"{o.p2p_address}"' for o in nodes[:n] if o.index != node.index]
        key_line = ""
        if validator:
            _write_private(node.directory / "validator.key", validator_keys[node.index].hex())
            key_line = 'validator_key = "validator.key"\n'
        node.config.write_text(
            'datadir = "data"\n'
            'genesis = "../genesis.json"\n'
            f'listen = "{host_of[node.index]}:{p2p_port + node.index}"\n'
            f'rpc = "{host_of[node.index]}:{rpc_port + node.index}"\n'
            f"bootstrap = [{peers[0] if node.index else ''}]\n"
            f"persistent = [{', '.join(peers) if validator else ''}]\n"
            f"{key_line}"
            "admin_rpc = true\n"
        )
    manifest.write_text(
        json.dumps(
            [
                {
                    "index": x.index,
                    "directory": str(x.directory),
                    "config": str(x.config),
                    "rpc_url": x.rpc_url,
                    "p2p_address": x.p2p_address,
                }
                for x in nodes
            ],
            indent=2,
        )
    )
    return nodes


def start_node(node: DevnetNode) -> subprocess.Popen[bytes]:
    """Start one devnet node as a child process logging to node.log."""
    log = (node.directory / "node.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "peerchain.cli", "node", "--config", str(node.config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


@click.command()
@click.option("-n", "validators", default=4, show_default=True, help="Number of validators.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".peerchain/devnet"),
    show_default=True,
    help="Where keys, genesis, configs, data and logs live.",
)
@click.option("--p2p-port", default=26656, show_default=True, help="First peer-to-peer port.")
@click.option("--rpc-port", default=8545, show_default=True, help="First JSON-RPC port.")
def devnet(validators: int, directory: Path, p2p_port: int, rpc_port: int) -> None:
    """Run a local network of N validators, one process each, until Ctrl-C."""
    if validators < 1:
        raise click.BadParameter("need at least one validator")
    nodes = create_devnet(directory, validators, p2p_port=p2p_port, rpc_port=rpc_port)
    procs = {node.index: start_node(node) for node in nodes}
    click.echo(f"PeerChain devnet: {len(nodes)} validators, files in {directory}")
    for node in nodes:
        click.echo(
            f"  node{node.index}  JSON-RPC and explorer {node.rpc_url}  "
            f"log {node.directory}/node.log"
        )
    click.echo("Dev accounts are prefunded (see `peerchain dev` for their keys). Ctrl-C stops.")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        for index, proc in procs.items():
            if proc.poll() is not None:
                click.echo(
                    f"node{index} exited with status {proc.returncode}; "
                    f"see {nodes[index].directory}/node.log"
                )
                stopping = True
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    click.echo("devnet stopped")
