"""`node.toml`: everything one network node needs to start.

    datadir = "data"                       # chain (LMDB), WAL, node key, address book
    genesis = "genesis.json"
    listen = "127.0.0.1:26656"             # peer-to-peer (TCP + Noise)
    advertise = "127.0.0.1"                # host other nodes should dial (optional)
    rpc = "127.0.0.1:8545"                 # JSON-RPC over HTTP and WebSocket
    cors = []                              # allowed browser origins
    bootstrap = ["peerchain://<node-id>@host:port"]
    persistent = []                        # peers to keep reconnecting to
    validator_key = "validator.key"        # hex secp256k1 key file; omit for an observer
    admin_rpc = false                      # enable admin_ methods
    metrics = "127.0.0.1:9100"             # /metrics, /health, /ready on their own (optional;
                                           # the JSON-RPC port serves them too)
    rpc_workers = 2                        # processes for eth_call, estimateGas, getLogs...
    rpc_gas_cap = 50000000                 # most gas one eth_call / eth_estimateGas uses
    rpc_evm_timeout = 5.0                  # seconds one of those calls may run
    rpc_max_calls = 16                     # of those calls running or waiting at once

Relative paths are taken from the directory of the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from peerchain.cli.queries import QuerySettings
from peerchain.core.errors import PeerChainError
from peerchain.core.p2p.identity import AddressError, PeerAddress, parse_address
from peerchain.node.queries import QueryLimits


class ConfigError(PeerChainError):
    """The node configuration file is missing, malformed or inconsistent."""


@dataclass(frozen=True, slots=True)
class NodeConfig:
    datadir: Path
    genesis: Path
    listen_host: str
    listen_port: int
    advertise: str | None
    rpc_host: str
    rpc_port: int
    cors: tuple[str, ...]
    bootstrap: tuple[PeerAddress, ...]
    persistent: tuple[PeerAddress, ...]
    validator_key: Path | None
    admin_rpc: bool
    metrics: tuple[str, int] | None = None
    queries: QuerySettings = field(default_factory=QuerySettings)


def _endpoint(value: object, name: str) -> tuple[str, int]:
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"'{name}' must be \"host:port\", got {value!r}")
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"'{name}' has a bad port: {value!r}")
    return host.strip("[]"), int(port)


def _addresses(value: object, name: str) -> tuple[PeerAddress, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"'{name}' must be a list of peerchain:// addresses")
    try:
        return tuple(parse_address(str(item)) for item in value)
    except AddressError as exc:
        raise ConfigError(f"'{name}': {exc}") from exc


def _number(raw: dict[str, object], name: str, default: float, low: float) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise ConfigError(f"'{name}' must be a number of at least {low:g}, got {value!r}")
    return value


def _query_settings(raw: dict[str, object]) -> QuerySettings:
    defaults = QueryLimits()
    counts = {
        name: _number(raw, name, default, low)
        for name, default, low in (
            ("rpc_workers", QuerySettings().workers, 0),
            ("rpc_gas_cap", defaults.gas_cap, 21_000),
            ("rpc_max_calls", defaults.max_calls, 1),
        )
    }
    for name, value in counts.items():
        if value != int(value):
            raise ConfigError(f"'{name}' must be a whole number, got {value!r}")
    limits = QueryLimits(
        gas_cap=int(counts["rpc_gas_cap"]),
        timeout=float(_number(raw, "rpc_evm_timeout", defaults.timeout, 0.1)),
        max_calls=int(counts["rpc_max_calls"]),
    )
    return QuerySettings(int(counts["rpc_workers"]), limits)


def load_node_config(path: Path) -> NodeConfig:
    """Read and check a node.toml. Raises ConfigError with a one-line reason."""
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    base = path.parent
    known = {
        "datadir",
        "genesis",
        "listen",
        "advertise",
        "rpc",
        "cors",
        "bootstrap",
        "persistent",
        "validator_key",
        "admin_rpc",
        "metrics",
        "rpc_workers",
        "rpc_gas_cap",
        "rpc_evm_timeout",
        "rpc_max_calls",
    }
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    for required in ("datadir", "genesis"):
        if required not in raw:
            raise ConfigError(f"{path}: '{required}' is required")
    listen_host, listen_port = _endpoint(raw.get("listen", "127.0.0.1:26656"), "listen")
    rpc_host, rpc_port = _endpoint(raw.get("rpc", "127.0.0.1:8545"), "rpc")
    key = raw.get("validator_key")
    cors = raw.get("cors", [])
    if not isinstance(cors, list):
        raise ConfigError("'cors' must be a list of origins")
    return NodeConfig(
        datadir=base / str(raw["datadir"]),
        genesis=base / str(raw["genesis"]),
        listen_host=listen_host,
        listen_port=listen_port,
        advertise=str(raw["advertise"]) if "advertise" in raw else None,
        rpc_host=rpc_host,
        rpc_port=rpc_port,
        cors=tuple(str(c) for c in cors),
        bootstrap=_addresses(raw.get("bootstrap", []), "bootstrap"),
        persistent=_addresses(raw.get("persistent", []), "persistent"),
        validator_key=base / str(key) if key else None,
        admin_rpc=bool(raw.get("admin_rpc", False)),
        metrics=_endpoint(raw["metrics"], "metrics") if "metrics" in raw else None,
        queries=_query_settings(raw),
    )


def read_hex_key(path: Path) -> bytes:
    """A 32-byte secp256k1 key stored as hex in a file. Raises ConfigError."""
    try:
        key = bytes.fromhex(path.read_text().strip().removeprefix("0x"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read validator key {path}: {exc}") from exc
    if len(key) != 32:
        raise ConfigError(f"validator key {path} must hold 32 bytes of hex")
    return key
