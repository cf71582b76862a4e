"""`peerchain devnet`: a local N-validator network, one process per validator.

The first run writes keys, a genesis and a node.toml per validator under `--dir`; later
runs resume from what is there. Logs go to `<dir>/node<i>/node.log`. The nodes run under
a `Supervisor` (peerchain.cli.supervisor); `devnet status|kill|restart|pause|resume` talk
to it from another terminal.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from peerchain.cli.dev import ETHER
from peerchain.cli.logs import announce, log_format_option, use_log_format
from peerchain.cli.rpcclient import RpcClient, RpcError
from peerchain.cli.supervisor import NodeSpec, Supervisor, request
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


def node_command(node: DevnetNode, log_level: str, log_format: str) -> list[str]:
    """The command line that runs one devnet node."""
    return [
        sys.executable,
        "-m",
        "peerchain.cli",
        "--log-level",
        log_level,
        "node",
        "--config",
        str(node.config),
        "--log-format",
        log_format,
    ]


def _dir_option(function: Any) -> Any:
    return click.option(
        "--dir",
        "directory",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="The devnet's directory (default: that of `peerchain devnet`, .peerchain/devnet).",
    )(function)


@click.group(invoke_without_command=True)
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
@log_format_option
@click.pass_context
def devnet(
    ctx: click.Context,
    validators: int,
    directory: Path,
    p2p_port: int,
    rpc_port: int,
    log_format: str,
) -> None:
    """Run a local network of N validators, one process each, until Ctrl-C.

    A node that dies is reported and the others keep running. From another terminal,
    `peerchain devnet status | kill N | restart N | pause N | resume N` act on the
    devnet running from the same --dir.
    """
    ctx.ensure_object(dict)["devnet_dir"] = directory
    if ctx.invoked_subcommand is not None:
        return
    if validators < 1:
        raise click.BadParameter("need at least one validator")
    use_log_format(log_format)
    log_level = str(ctx.find_root().params.get("log_level", "info"))
    nodes = create_devnet(directory, validators, p2p_port=p2p_port, rpc_port=rpc_port)
    specs = [
        NodeSpec(
            node.index,
            node_command(node, log_level, log_format),
            node.directory / "node.log",
            node.rpc_url,
        )
        for node in nodes
    ]
    announce(f"PeerChain devnet: {len(nodes)} validators, files in {directory}")
    for node in nodes:
        announce(
            f"  node{node.index}  JSON-RPC and explorer {node.rpc_url}  "
            f"log {node.directory}/node.log"
        )
    announce(
        "Dev accounts are prefunded (see `peerchain dev` for their keys). Ctrl-C stops.\n"
        f"From another terminal: peerchain devnet status|kill N|restart N|pause N|resume N "
        f"--dir {directory}"
    )
    asyncio.run(_supervise(directory, specs))
    announce("devnet stopped")


async def _supervise(directory: Path, specs: list[NodeSpec]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await Supervisor(directory, specs, announce).run(stop)


def _control(ctx: click.Context, directory: Path | None, command: str, index: int) -> str:
    chosen = directory or ctx.obj["devnet_dir"]
    answer = request(chosen, {"command": command, "node": index})
    return str(answer["message"])


@devnet.command("kill")
@click.argument("index", type=int, metavar="N")
@_dir_option
@click.pass_context
def kill_node(ctx: click.Context, index: int, directory: Path | None) -> None:
    """Kill node N of the running devnet with SIGKILL, as in a crash."""
    click.echo(_control(ctx, directory, "kill", index))


@devnet.command("pause")
@click.argument("index", type=int, metavar="N")
@_dir_option
@click.pass_context
def pause_node(ctx: click.Context, index: int, directory: Path | None) -> None:
    """Freeze node N (SIGSTOP): it keeps its connections but answers nothing."""
    click.echo(_control(ctx, directory, "pause", index))


@devnet.command("resume")
@click.argument("index", type=int, metavar="N")
@_dir_option
@click.pass_context
def resume_node(ctx: click.Context, index: int, directory: Path | None) -> None:
    """Let a paused node N run again (SIGCONT)."""
    click.echo(_control(ctx, directory, "resume", index))


@devnet.command("restart")
@click.argument("index", type=int, metavar="N")
@_dir_option
@click.option(
    "--wait",
    "wait_seconds",
    default=60.0,
    show_default=True,
    help="Seconds to wait for its JSON-RPC to answer (0: do not wait).",
)
@click.pass_context
def restart_node(
    ctx: click.Context, index: int, directory: Path | None, wait_seconds: float
) -> None:
    """Stop node N if it runs (SIGTERM) and start it again."""
    click.echo(_control(ctx, directory, "restart", index))
    if wait_seconds <= 0:
        return
    status = request(directory or ctx.obj["devnet_dir"], {"command": "status"})
    url = next(n["rpcUrl"] for n in status["nodes"] if n["index"] == index)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            height = int(RpcClient(url, timeout=2).request("eth_blockNumber"), 16)
        except RpcError:
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"node{index} did not answer at {url} within {wait_seconds:g}s; "
                    "see its log (peerchain devnet status)"
                ) from None
            time.sleep(0.5)
        else:
            click.echo(f"node{index} answers at {url}, head block {height}")
            return


@devnet.command("status")
@_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_context
def devnet_status(ctx: click.Context, directory: Path | None, as_json: bool) -> None:
    """List the running devnet's nodes: pid, state, height, peers, JSON-RPC address."""
    chosen = directory or ctx.obj["devnet_dir"]
    answer = request(chosen, {"command": "status"})
    nodes = answer["nodes"]
    with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
        chains = list(pool.map(_chain_status, nodes))
    for node, chain in zip(nodes, chains, strict=True):
        node.update(chain)
    if as_json:
        click.echo(json.dumps({"supervisor": answer["supervisor"], "nodes": nodes}, indent=2))
        return
    click.echo(f"devnet in {chosen} (supervisor pid {answer['supervisor']})")
    click.echo(f"{'node':<6}{'pid':<9}{'state':<9}{'height':<8}{'peers':<7}JSON-RPC")
    for node in nodes:
        note = f"  ({node['exit']})" if node["exit"] and node["state"] != "running" else ""
        click.echo(
            f"{'node' + str(node['index']):<6}{_shown(node['pid']):<9}{node['state']:<9}"
            f"{_shown(node['height']):<8}{_shown(node['peers']):<7}{node['rpcUrl']}{note}"
        )


def _shown(value: object) -> str:
    return "-" if value is None else str(value)


def _chain_status(node: dict[str, Any]) -> dict[str, int | None]:
    """Height and peer count of a running node over JSON-RPC (None when it does not
    answer in time, e.g. paused)."""
    if node["state"] != "running":
        return {"height": None, "peers": None}
    client = RpcClient(node["rpcUrl"], timeout=2)
    try:
        return {
            "height": int(client.request("eth_blockNumber"), 16),
            "peers": int(client.request("net_peerCount"), 16),
        }
    except (RpcError, TypeError, ValueError):
        return {"height": None, "peers": None}
