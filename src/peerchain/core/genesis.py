"""The genesis of a chain, read from a geth-style `genesis.json` object.

Besides the usual fields (`config.chainId`, `alloc`, `gasLimit`, `baseFeePerGas`,
`timestamp`, `extraData`, ...) a `peerchain` section carries the consensus settings:

```
"peerchain": {
  "validators": [{"address": "0x...", "power": 10}],
  "timeouts": {"propose_ms": 3000, "propose_delta_ms": 500, "prevote_ms": 1000,
               "prevote_delta_ms": 500, "precommit_ms": 1000,
               "precommit_delta_ms": 500, "commit_ms": 1000},
  "block_period_ms": 1000,
  "governance": {"proposal_lifetime": 1000, "jail_double_signers": true},
  "dev": {"automine": true, "block_time_ms": 0}
}
```

A genesis with validators predeploys the governance contract (`core.governance`) holding
them; `governance` sets how many blocks a proposal stays open and whether double-sign
evidence removes the offender from the set.

Numbers may be JSON integers, `0x` hex strings or decimal strings. The genesis hash
is not computed here: it is the hash of the header the execution layer builds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from peerchain.core.errors import PeerChainError

ZERO_ADDRESS = b"\0" * 20
ZERO_HASH = b"\0" * 32
MAX_EXTRA_DATA = 32
DEFAULT_GAS_LIMIT = 30_000_000
DEFAULT_BASE_FEE = 1_000_000_000
FORKS = ("Cancun", "Prague")
DEFAULT_FORK = "Prague"
_UINT256 = 2**256


class GenesisError(PeerChainError):
    """A genesis document is malformed; the message names the offending field."""


@dataclass(frozen=True, slots=True)
class GenesisAccount:
    """An account of the genesis state. `storage` holds (slot, value) pairs, sorted."""

    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Validator:
    """A validator of the genesis set and its voting power."""

    address: bytes
    power: int


@dataclass(frozen=True, slots=True)
class ConsensusTimeouts:
    """Round timeouts in milliseconds; each `*_delta_ms` is added per round."""

    propose_ms: int = 3000
    propose_delta_ms: int = 500
    prevote_ms: int = 1000
    prevote_delta_ms: int = 500
    precommit_ms: int = 1000
    precommit_delta_ms: int = 500
    commit_ms: int = 1000


@dataclass(frozen=True, slots=True)
class GovernanceSettings:
    """How validator set proposals expire (in blocks) and whether double signers are
    removed from the set."""

    proposal_lifetime: int = 1000
    jail_double_signers: bool = True


@dataclass(frozen=True, slots=True)
class DevSettings:
    """Dev-mode block production: a block per transaction, or one every `block_time_ms`."""

    automine: bool = True
    block_time_ms: int = 0


@dataclass(frozen=True, slots=True)
class Genesis:
    """Everything that defines block 0 and the chain's fixed settings.

    `alloc` is sorted by address so that equal documents give equal values. `fork`
    is the EVM rule set the chain runs from block 0 ("Prague" or "Cancun").
    """

    chain_id: int
    fork: str = DEFAULT_FORK
    alloc: tuple[tuple[bytes, GenesisAccount], ...] = ()
    gas_limit: int = DEFAULT_GAS_LIMIT
    base_fee_per_gas: int = DEFAULT_BASE_FEE
    timestamp: int = 0
    extra_data: bytes = b""
    difficulty: int = 0
    mix_hash: bytes = ZERO_HASH
    coinbase: bytes = ZERO_ADDRESS
    nonce: bytes = b"\0" * 8
    validators: tuple[Validator, ...] = ()
    timeouts: ConsensusTimeouts = field(default_factory=ConsensusTimeouts)
    block_period_ms: int = 1000
    governance: GovernanceSettings = field(default_factory=GovernanceSettings)
    dev: DevSettings = field(default_factory=DevSettings)

    def account(self, address: bytes) -> GenesisAccount | None:
        """The genesis account at `address`, if it is allocated."""
        for addr, account in self.alloc:
            if addr == address:
                return account
        return None

    def to_json(self) -> dict[str, object]:
        """The geth-style JSON object that `parse_genesis` reads back to this value."""
        alloc: dict[str, object] = {}
        for address, account in self.alloc:
            entry: dict[str, object] = {"balance": hex(account.balance)}
            if account.nonce:
                entry["nonce"] = hex(account.nonce)
            if account.code:
                entry["code"] = "0x" + account.code.hex()
            if account.storage:
                entry["storage"] = {
                    "0x" + k.to_bytes(32, "big").hex(): "0x" + v.to_bytes(32, "big").hex()
                    for k, v in account.storage
                }
            alloc["0x" + address.hex()] = entry
        return {
            "config": {"chainId": self.chain_id, **_fork_config(self.fork)},
            "nonce": "0x" + self.nonce.hex(),
            "timestamp": hex(self.timestamp),
            "extraData": "0x" + self.extra_data.hex(),
            "gasLimit": hex(self.gas_limit),
            "baseFeePerGas": hex(self.base_fee_per_gas),
            "difficulty": hex(self.difficulty),
            "mixHash": "0x" + self.mix_hash.hex(),
            "coinbase": "0x" + self.coinbase.hex(),
            "alloc": alloc,
            "peerchain": {
                "validators": [
                    {"address": "0x" + v.address.hex(), "power": v.power} for v in self.validators
                ],
                "timeouts": {
                    name: getattr(self.timeouts, name) for name in ConsensusTimeouts.__slots__
                },
                "block_period_ms": self.block_period_ms,
                "governance": {
                    "proposal_lifetime": self.governance.proposal_lifetime,
                    "jail_double_signers": self.governance.jail_double_signers,
                },
                "dev": {"automine": self.dev.automine, "block_time_ms": self.dev.block_time_ms},
            },
        }


def dev_genesis(
    chain_id: int, accounts: Sequence[bytes], balance: int, timestamp: int = 0
) -> Genesis:
    """A dev-mode genesis: each of `accounts` holds `balance` wei, no validators; the
    genesis block has `timestamp` (a dev chain starts at the time it is made, as
    Hardhat's does, so that "now + 1 hour" read from it is in the future)."""
    if chain_id <= 0:
        raise GenesisError(f"chainId must be positive, got {chain_id}")
    alloc = {_address_value(a, "dev account"): GenesisAccount(balance=balance) for a in accounts}
    return Genesis(chain_id=chain_id, alloc=tuple(sorted(alloc.items())), timestamp=timestamp)


def parse_genesis(obj: Mapping[str, object]) -> Genesis:
    """Read a geth-style genesis object. Raises GenesisError naming the bad field."""
    if not isinstance(obj, Mapping):
        raise GenesisError("genesis must be a JSON object")
    config = _mapping(obj.get("config"), "config")
    chain_id = _uint(config.get("chainId"), "config.chainId", bits=64)
    if chain_id == 0:
        raise GenesisError("config.chainId must be positive")
    extra_data = _hex_bytes(obj.get("extraData", "0x"), "extraData")
    if len(extra_data) > MAX_EXTRA_DATA:
        raise GenesisError(f"extraData is {len(extra_data)} bytes, at most {MAX_EXTRA_DATA}")
    gas_limit = _uint(obj.get("gasLimit", DEFAULT_GAS_LIMIT), "gasLimit", bits=64)
    if gas_limit < 5000:
        raise GenesisError(f"gasLimit {gas_limit} is below the minimum of 5000")
    section = _mapping(obj.get("peerchain", {}), "peerchain")
    return Genesis(
        chain_id=chain_id,
        fork=_fork(config),
        alloc=_alloc(obj.get("alloc", {})),
        gas_limit=gas_limit,
        base_fee_per_gas=_uint(obj.get("baseFeePerGas", DEFAULT_BASE_FEE), "baseFeePerGas"),
        timestamp=_uint(obj.get("timestamp", 0), "timestamp", bits=64),
        extra_data=extra_data,
        difficulty=_uint(obj.get("difficulty", 0), "difficulty"),
        mix_hash=_fixed(obj.get("mixHash", "0x" + "00" * 32), "mixHash", 32),
        coinbase=_fixed(obj.get("coinbase", "0x" + "00" * 20), "coinbase", 20),
        nonce=_uint(obj.get("nonce", 0), "nonce", bits=64).to_bytes(8, "big"),
        validators=_validators(section.get("validators", [])),
        timeouts=_timeouts(section.get("timeouts", {})),
        block_period_ms=_uint(section.get("block_period_ms", 1000), "peerchain.block_period_ms"),
        governance=_governance(section.get("governance", {})),
        dev=_dev(section.get("dev", {})),
    )


def _fork(config: Mapping[str, object]) -> str:
    """The fork active from genesis: Prague unless the config stops at Cancun.

    Fork times must be 0: the chain runs one rule set from block 0."""
    for name in ("osakaTime", "pragueTime", "cancunTime"):
        if name in config and _uint(config[name], f"config.{name}", bits=64) != 0:
            raise GenesisError(f"config.{name}: fork transitions are not supported, use 0")
    if "osakaTime" in config:
        raise GenesisError("config.osakaTime: the Osaka fork is not supported")
    if "cancunTime" in config and "pragueTime" not in config:
        return "Cancun"
    return DEFAULT_FORK


def _fork_config(fork: str) -> dict[str, object]:
    times: dict[str, object] = {"shanghaiTime": 0, "cancunTime": 0}
    if fork == "Prague":
        times["pragueTime"] = 0
    return times


def _alloc(value: object) -> tuple[tuple[bytes, GenesisAccount], ...]:
    entries = _mapping(value, "alloc")
    alloc: dict[bytes, GenesisAccount] = {}
    for key, raw in entries.items():
        where = f"alloc[{key}]"
        address = _address_value(_hex_bytes(key, where), where)
        account = _mapping(raw, where)
        storage = _mapping(account.get("storage", {}), f"{where}.storage")
        slots = {
            _uint(slot, f"{where}.storage key {slot}"): _uint(v, f"{where}.storage[{slot}]")
            for slot, v in storage.items()
        }
        alloc[address] = GenesisAccount(
            balance=_uint(account.get("balance", 0), f"{where}.balance"),
            nonce=_uint(account.get("nonce", 0), f"{where}.nonce", bits=64),
            code=_hex_bytes(account.get("code", "0x"), f"{where}.code"),
            storage=tuple(sorted((k, v) for k, v in slots.items() if v)),
        )
    return tuple(sorted(alloc.items()))


def _validators(value: object) -> tuple[Validator, ...]:
    if not isinstance(value, list):
        raise GenesisError("peerchain.validators must be a list")
    validators = []
    seen: set[bytes] = set()
    for i, raw in enumerate(value):
        where = f"peerchain.validators[{i}]"
        entry = _mapping(raw, where)
        address = _fixed(entry.get("address"), f"{where}.address", 20)
        power = _uint(entry.get("power", 1), f"{where}.power", bits=63)
        if power == 0:
            raise GenesisError(f"{where}.power must be positive")
        if address in seen:
            raise GenesisError(f"{where}.address 0x{address.hex()} is listed twice")
        seen.add(address)
        validators.append(Validator(address=address, power=power))
    return tuple(validators)


def _timeouts(value: object) -> ConsensusTimeouts:
    entries = _mapping(value, "peerchain.timeouts")
    defaults = ConsensusTimeouts()
    known = set(ConsensusTimeouts.__slots__)
    unknown = set(entries) - known
    if unknown:
        raise GenesisError(f"peerchain.timeouts: unknown field(s) {', '.join(sorted(unknown))}")
    values = {
        name: _uint(entries.get(name, getattr(defaults, name)), f"peerchain.timeouts.{name}")
        for name in known
    }
    return ConsensusTimeouts(**values)


def _governance(value: object) -> GovernanceSettings:
    entries = _mapping(value, "peerchain.governance")
    unknown = set(entries) - set(GovernanceSettings.__slots__)
    if unknown:
        raise GenesisError(f"peerchain.governance: unknown field(s) {', '.join(sorted(unknown))}")
    lifetime = _uint(
        entries.get("proposal_lifetime", GovernanceSettings().proposal_lifetime),
        "peerchain.governance.proposal_lifetime",
        bits=64,
    )
    if lifetime == 0:
        raise GenesisError("peerchain.governance.proposal_lifetime must be at least 1 block")
    jail = entries.get("jail_double_signers", True)
    if not isinstance(jail, bool):
        raise GenesisError("peerchain.governance.jail_double_signers must be true or false")
    return GovernanceSettings(proposal_lifetime=lifetime, jail_double_signers=jail)


def _dev(value: object) -> DevSettings:
    entries = _mapping(value, "peerchain.dev")
    automine = entries.get("automine", True)
    if not isinstance(automine, bool):
        raise GenesisError("peerchain.dev.automine must be true or false")
    block_time = _uint(entries.get("block_time_ms", 0), "peerchain.dev.block_time_ms")
    return DevSettings(automine=automine, block_time_ms=block_time)


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise GenesisError(f"{where} must be a JSON object")
    return value


def _uint(value: object, where: str, *, bits: int = 256) -> int:
    if isinstance(value, bool) or value is None:
        raise GenesisError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text, 16) if text[:2] in ("0x", "0X") else int(text, 10)
        except ValueError:
            raise GenesisError(f"{where}: not a number: {value!r}") from None
    else:
        raise GenesisError(f"{where}: expected a number, got {value!r}")
    if not 0 <= number < 2**bits:
        raise GenesisError(f"{where}: {number} is out of range for a {bits}-bit number")
    return number


def _hex_bytes(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise GenesisError(f"{where}: expected a hex string, got {value!r}")
    text = value[2:] if value[:2] in ("0x", "0X") else value
    if len(text) % 2:
        text = "0" + text
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise GenesisError(f"{where}: not a hex string: {value!r}") from None


def _fixed(value: object, where: str, size: int) -> bytes:
    data = _hex_bytes(value, where)
    if len(data) != size:
        raise GenesisError(f"{where}: expected {size} bytes, got {len(data)}")
    return data


def _address_value(address: bytes, where: str) -> bytes:
    if len(address) != 20:
        raise GenesisError(f"{where}: an address is 20 bytes, got {len(address)}")
    return address
