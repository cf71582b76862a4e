"""Signed Ethereum transactions: decoding, signing, static validation, intrinsic gas.

Supported envelopes: legacy (with or without an EIP-155 chain id), access-list
(type 1), dynamic-fee (type 2) and set-code (type 4). Blob transactions (type 3)
need a sidecar network form and blob gas accounting and are refused with
`InvalidTransaction("transaction type not supported")`.

The sender is recovered once, in `decode_transaction` (or `sign_transaction`);
code downstream trusts `Transaction.sender`.

The RLP codec is `peerchain.core.rlp`; its `DecodeError` is what malformed bytes raise.
"""

from __future__ import annotations

from dataclasses import dataclass

from peerchain.core import crypto
from peerchain.core.errors import (
    DecodeError,
    IntrinsicGasTooLow,
    InvalidSignature,
    InvalidTransaction,
    WrongChainId,
)
from peerchain.core.rlp import (
    RLPItem,
    decode_rlp,
    encode_bytes,
    encode_list,
    encode_rlp,
    encode_uint,
    split_list,
)

AccessList = tuple[tuple[bytes, tuple[int, ...]], ...]

LEGACY_TX = 0
ACCESS_LIST_TX = 1
DYNAMIC_FEE_TX = 2
BLOB_TX = 3
SET_CODE_TX = 4

UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
SECP256K1_HALF_N = crypto.SECP256K1_N // 2
# s of the marker signature of a dev node's impersonated transactions (r holds the sender).
IMPERSONATED_S = 1
MAX_INITCODE_SIZE = 2 * 24576

TX_GAS = 21000
TX_CREATE_GAS = 32000
TX_DATA_ZERO_GAS = 4
TX_DATA_NONZERO_GAS = 16
INITCODE_WORD_GAS = 2
ACCESS_LIST_ADDRESS_GAS = 2400
ACCESS_LIST_STORAGE_KEY_GAS = 1900
AUTHORIZATION_GAS = 25000
FLOOR_GAS_PER_TOKEN = 10


@dataclass(frozen=True, slots=True)
class Authorization:
    """One signed entry of a set-code transaction's authorization list.

    Its signature is checked when the transaction executes (an invalid entry is
    skipped there), not when the transaction is decoded.
    """

    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int


AuthorizationList = tuple[Authorization, ...]


@dataclass(frozen=True, slots=True)
class Transaction:
    """A decoded, signature-checked transaction.

    For legacy and access-list transactions both fee fields hold the gas price.
    `raw` is the canonical network encoding (type byte + RLP for typed ones) and
    `hash` is its keccak-256. `v` is the legacy v value (27/28 or EIP-155) for
    legacy transactions and the y parity for typed ones.
    """

    raw: bytes
    hash: bytes
    type: int
    chain_id: int | None
    nonce: int
    gas_limit: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    to: bytes | None
    value: int
    data: bytes
    access_list: AccessList
    v: int
    r: int
    s: int
    sender: bytes
    authorization_list: AuthorizationList = ()

    @property
    def gas_price(self) -> int:
        """The fee cap per gas (the gas price for legacy transactions)."""
        return self.max_fee_per_gas

    def effective_gas_price(self, base_fee: int) -> int:
        """Price per gas actually paid in a block with `base_fee`."""
        if self.type in (0, 1):
            return self.max_fee_per_gas
        return min(self.max_fee_per_gas, base_fee + self.max_priority_fee_per_gas)

    def effective_tip(self, base_fee: int) -> int:
        """Tip per gas the block producer receives at `base_fee` (negative if unpayable)."""
        return self.effective_gas_price(base_fee) - base_fee

    @property
    def cost(self) -> int:
        """Upper bound of what the sender pays: gas_limit * fee cap + value."""
        return self.gas_limit * self.max_fee_per_gas + self.value


@dataclass(frozen=True, slots=True)
class UnsignedTransaction:
    """The fields a sender signs. For types 0 and 1 only `max_fee_per_gas` (the gas
    price) is used and `max_priority_fee_per_gas` must be left equal to it or 0.
    `chain_id=None` is allowed for legacy only (an unprotected, pre-EIP-155 signature).
    """

    type: int
    chain_id: int | None
    nonce: int
    gas_limit: int
    max_fee_per_gas: int
    to: bytes | None
    value: int = 0
    data: bytes = b""
    max_priority_fee_per_gas: int = 0
    access_list: AccessList = ()
    authorization_list: AuthorizationList = ()


# ---------------------------------------------------------------------------
# field layout shared by signing and decoding


def _access_list_items(access_list: AccessList) -> list[RLPItem]:
    return [[address, [key.to_bytes(32, "big") for key in keys]] for address, keys in access_list]


def _authorization_items(auths: AuthorizationList) -> list[RLPItem]:
    return [
        [
            encode_uint(a.chain_id),
            a.address,
            encode_uint(a.nonce),
            encode_uint(a.y_parity),
            encode_uint(a.r),
            encode_uint(a.s),
        ]
        for a in auths
    ]


def _payload_items(tx: UnsignedTransaction) -> list[RLPItem]:
    """The unsigned fields of `tx` in wire order."""
    to = tx.to if tx.to is not None else b""
    value, data = encode_uint(tx.value), tx.data
    if tx.type == LEGACY_TX:
        return [encode_uint(tx.nonce), encode_uint(tx.max_fee_per_gas),
                encode_uint(tx.gas_limit), to, value, data]  # fmt: skip
    assert tx.chain_id is not None
    head = [encode_uint(tx.chain_id), encode_uint(tx.nonce)]
    if tx.type == ACCESS_LIST_TX:
        fees = [encode_uint(tx.max_fee_per_gas)]
    else:
        fees = [encode_uint(tx.max_priority_fee_per_gas), encode_uint(tx.max_fee_per_gas)]
    items: list[RLPItem] = [*head, *fees, encode_uint(tx.gas_limit), to, value, data,
                            _access_list_items(tx.access_list)]  # fmt: skip
    if tx.type == SET_CODE_TX:
        items.append(_authorization_items(tx.authorization_list))
    return items


def signing_hash(tx: UnsignedTransaction) -> bytes:
    """The 32-byte hash the sender signs (EIP-155 for protected legacy, EIP-2718 typed)."""
    items = _payload_items(tx)
    if tx.type == LEGACY_TX:
        if tx.chain_id is not None:
            items = [*items, encode_uint(tx.chain_id), b"", b""]
        return crypto.keccak256(encode_rlp(items))
    return crypto.keccak256(bytes([tx.type]) + encode_rlp(items))


def _raw_signing_hash(raw: bytes, tx: UnsignedTransaction) -> bytes:
    """`signing_hash(tx)` for `raw`, the canonical encoding of `tx` signed: the
    encodings of its unsigned fields taken as they stand in `raw` (without v, r, s)
    rather than encoded again."""
    if tx.type == LEGACY_TX:
        items = split_list(raw)[:6]
        if tx.chain_id is not None:
            items += [encode_bytes(encode_uint(tx.chain_id)), b"\x80", b"\x80"]
        return crypto.keccak256(encode_list(items))
    return crypto.keccak256(raw[:1] + encode_list(split_list(raw[1:])[:-3]))


def _encode_signed(tx: UnsignedTransaction, v: int, r: int, s: int) -> bytes:
    items = [*_payload_items(tx), encode_uint(v), encode_uint(r), encode_uint(s)]
    if tx.type == LEGACY_TX:
        return encode_rlp(items)
    return bytes([tx.type]) + encode_rlp(items)


def _legacy_v(chain_id: int | None, y_parity: int) -> int:
    return 27 + y_parity if chain_id is None else 35 + 2 * chain_id + y_parity


def _assemble(
    tx: UnsignedTransaction, raw: bytes, v: int, r: int, s: int, impersonation: bool = False
) -> Transaction:
    """Recover the sender of a signed `tx` (`raw`, its canonical encoding) and build the
    Transaction. Raises InvalidSignature.

    With `impersonation`, a signature with s = IMPERSONATED_S names its sender in r."""
    y_parity = v
    if tx.type == LEGACY_TX:
        y_parity = v - _legacy_v(tx.chain_id, 0)
    if y_parity not in (0, 1):
        raise InvalidSignature("invalid signature: y parity must be 0 or 1")
    if impersonation and s == IMPERSONATED_S and 0 < r < 2**160:
        return _transaction(tx, raw, v, r, s, r.to_bytes(20, "big"))
    if not (0 < r < crypto.SECP256K1_N and 0 < s <= SECP256K1_HALF_N):
        raise InvalidSignature("invalid transaction v, r, s values")
    try:
        sender = crypto.recover_address(_raw_signing_hash(raw, tx), y_parity, r, s)
    except crypto.BadSignature as exc:
        raise InvalidSignature(f"invalid sender: {exc}") from exc
    return _transaction(tx, raw, v, r, s, sender)


def _transaction(
    tx: UnsignedTransaction, raw: bytes, v: int, r: int, s: int, sender: bytes
) -> Transaction:
    legacy = tx.type in (LEGACY_TX, ACCESS_LIST_TX)
    return Transaction(
        raw=raw,
        hash=crypto.keccak256(raw),
        type=tx.type,
        chain_id=tx.chain_id,
        nonce=tx.nonce,
        gas_limit=tx.gas_limit,
        max_fee_per_gas=tx.max_fee_per_gas,
        max_priority_fee_per_gas=tx.max_fee_per_gas if legacy else tx.max_priority_fee_per_gas,
        to=tx.to,
        value=tx.value,
        data=tx.data,
        access_list=tx.access_list,
        v=v,
        r=r,
        s=s,
        sender=sender,
        authorization_list=tx.authorization_list,
    )


def sign_transaction(tx: UnsignedTransaction, private_key: bytes) -> Transaction:
    """Sign `tx` with a 32-byte secp256k1 key (dev accounts, tests)."""
    if tx.type not in (LEGACY_TX, ACCESS_LIST_TX, DYNAMIC_FEE_TX, SET_CODE_TX):
        raise InvalidTransaction("transaction type not supported")
    if tx.chain_id is None and tx.type != LEGACY_TX:
        raise InvalidTransaction("typed transactions need a chain id")
    y_parity, r, s = crypto.sign_hash(signing_hash(tx), private_key)
    v = _legacy_v(tx.chain_id, y_parity) if tx.type == LEGACY_TX else y_parity
    return _assemble(tx, _encode_signed(tx, v, r, s), v, r, s)


def impersonate_transaction(tx: UnsignedTransaction, sender: bytes) -> Transaction:
    """`tx` as sent by `sender` without its key, for dev nodes' account impersonation.

    The signature is a marker, not a signature: r holds the sender's address and s is
    IMPERSONATED_S. Only a decoder told to accept impersonation reads it back with that
    sender; elsewhere it recovers to an unrelated address or fails. Raises
    InvalidTransaction for the zero address (it has no marker form)."""
    r = int.from_bytes(sender, "big")
    if r == 0:
        raise InvalidTransaction("the zero address cannot be impersonated")
    v = _legacy_v(tx.chain_id, 0) if tx.type == LEGACY_TX else 0
    raw = _encode_signed(tx, v, r, IMPERSONATED_S)
    return _transaction(tx, raw, v, r, IMPERSONATED_S, sender)


def unsigned_transaction(tx: UnsignedTransaction, sender: bytes) -> Transaction:
    """`tx` with an all-zero signature and `sender` taken as given: a simulated call as
    eth_simulateV1 shows it (geth's form). No decoder reads it back with that sender."""
    raw = _encode_signed(tx, 0, 0, 0)
    return _transaction(tx, raw, 0, 0, 0, sender)


# ---------------------------------------------------------------------------
# decoding


def _uint(item: RLPItem, name: str, max_bytes: int | None = None) -> int:
    if not isinstance(item, bytes):
        raise DecodeError(f"rlp: expected string for {name}, got list")
    if item[:1] == b"\x00":
        raise DecodeError(f"rlp: non-canonical integer (leading zero bytes) for {name}")
    if max_bytes is not None and len(item) > max_bytes:
        raise DecodeError(f"rlp: input string too long for uint{8 * max_bytes} ({name})")
    return int.from_bytes(item, "big")


def _bytes(item: RLPItem, name: str, sizes: tuple[int, ...] | None = None) -> bytes:
    if not isinstance(item, bytes):
        raise DecodeError(f"rlp: expected string for {name}, got list")
    if sizes is not None and len(item) not in sizes:
        raise DecodeError(f"rlp: {name} must be {' or '.join(map(str, sizes))} bytes")
    return item


def _list(item: RLPItem, name: str, length: int | None = None) -> list[RLPItem]:
    if not isinstance(item, list):
        raise DecodeError(f"rlp: expected list for {name}, got string")
    if length is not None and len(item) != length:
        which = "too few" if len(item) < length else "too many"
        raise DecodeError(f"rlp: {which} elements for {name}")
    return item


def _to(item: RLPItem) -> bytes | None:
    to = _bytes(item, "to", (0, 20))
    return to or None


def _access_list(item: RLPItem) -> AccessList:
    entries = []
    for entry in _list(item, "access list"):
        address, keys = _list(entry, "access list entry", 2)
        entries.append(
            (
                _bytes(address, "access list address", (20,)),
                tuple(
                    int.from_bytes(_bytes(k, "storage key", (32,)), "big")
                    for k in _list(keys, "storage keys")
                ),
            )
        )
    return tuple(entries)


def _authorization_list(item: RLPItem) -> AuthorizationList:
    auths = []
    for entry in _list(item, "authorization list"):
        chain_id, address, nonce, y_parity, r, s = _list(entry, "authorization", 6)
        auths.append(
            Authorization(
                chain_id=_uint(chain_id, "authorization chain id", 32),
                address=_bytes(address, "authorization address", (20,)),
                nonce=_uint(nonce, "authorization nonce", 8),
                y_parity=_uint(y_parity, "authorization y parity", 1),
                r=_uint(r, "authorization r", 32),
                s=_uint(s, "authorization s", 32),
            )
        )
    return tuple(auths)


def _check_chain_id(got: int | None, expected: int | None) -> None:
    if expected is not None and got is not None and got != expected:
        raise WrongChainId(got, expected)


def _decode_legacy(raw: bytes, expected_chain_id: int | None, impersonation: bool) -> Transaction:
    fields = _list(decode_rlp(raw), "legacy transaction", 9)
    v = _uint(fields[6], "v")
    if v in (0, 1):
        raise InvalidSignature("invalid transaction v, r, s values")
    chain_id = None if v in (27, 28) else (v - 35) // 2
    _check_chain_id(chain_id, expected_chain_id)
    if chain_id is not None and chain_id < 0:
        raise InvalidSignature(f"invalid signature: v {v} is neither 27/28 nor EIP-155")
    tx = UnsignedTransaction(
        type=LEGACY_TX,
        chain_id=chain_id,
        nonce=_uint(fields[0], "nonce", 8),
        max_fee_per_gas=_uint(fields[1], "gas price"),
        gas_limit=_uint(fields[2], "gas", 8),
        to=_to(fields[3]),
        value=_uint(fields[4], "value"),
        data=_bytes(fields[5], "data"),
    )
    return _assemble(tx, raw, v, _uint(fields[7], "r"), _uint(fields[8], "s"), impersonation)


_TYPED_LENGTHS = {ACCESS_LIST_TX: 11, DYNAMIC_FEE_TX: 12, SET_CODE_TX: 13}


def _decode_typed(raw: bytes, expected_chain_id: int | None, impersonation: bool) -> Transaction:
    tx_type = raw[0]
    if tx_type not in _TYPED_LENGTHS:
        raise InvalidTransaction("transaction type not supported")
    fields = _list(decode_rlp(raw[1:]), f"type {tx_type} transaction", _TYPED_LENGTHS[tx_type])
    if tx_type == ACCESS_LIST_TX:
        tip = fee = _uint(fields[2], "gas price")
        rest = fields[3:]
    else:
        tip = _uint(fields[2], "max priority fee per gas")
        fee = _uint(fields[3], "max fee per gas")
        rest = fields[4:]
    to = _to(rest[1])
    auths = _authorization_list(rest[5]) if tx_type == SET_CODE_TX else ()
    if tx_type == SET_CODE_TX and (to is None or not auths):
        raise InvalidTransaction(
            "set code transaction needs a recipient and a non-empty authorization list"
        )
    chain_id = _uint(fields[0], "chain id")
    _check_chain_id(chain_id, expected_chain_id)
    tx = UnsignedTransaction(
        type=tx_type,
        chain_id=chain_id,
        nonce=_uint(fields[1], "nonce", 8),
        max_priority_fee_per_gas=tip,
        max_fee_per_gas=fee,
        gas_limit=_uint(rest[0], "gas", 8),
        to=to,
        value=_uint(rest[2], "value"),
        data=_bytes(rest[3], "data"),
        access_list=_access_list(rest[4]),
        authorization_list=auths,
    )
    v, r, s = (_uint(f, name) for f, name in zip(fields[-3:], "vrs", strict=True))
    return _assemble(tx, raw, v, r, s, impersonation)


def decode_transaction(
    raw: bytes, chain_id: int | None = None, *, impersonation: bool = False
) -> Transaction:
    """Decode a transaction in its network form (legacy RLP list or type byte + RLP)
    and recover its sender.

    With `chain_id`, a transaction signed for another chain raises WrongChainId
    before any signature work (unprotected legacy transactions pass). Raises
    DecodeError for malformed bytes, InvalidSignature for a bad, high-s or
    out-of-range signature, InvalidTransaction for an unsupported type.
    `impersonation` (dev nodes only) reads `impersonate_transaction`'s marker.
    """
    if not raw:
        raise DecodeError("typed transaction too short")
    if raw[0] >= 0xC0:
        return _decode_legacy(raw, chain_id, impersonation)
    if raw[0] >= 0x80:
        raise DecodeError("rlp: expected input list for legacy transaction")
    if len(raw) < 2:
        raise DecodeError("typed transaction too short")
    return _decode_typed(raw, chain_id, impersonation)


# ---------------------------------------------------------------------------
# static rules


def intrinsic_gas(tx: Transaction | UnsignedTransaction, *, calldata_floor: bool = False) -> int:
    """Gas a transaction needs before execution starts.

    21000 (+32000 and 2 per initcode word for a create), 4 per zero and 16 per
    non-zero data byte, 2400 per access-list address and 1900 per storage key,
    25000 per authorization. With `calldata_floor` (Prague) the result is at
    least the calldata floor 21000 + 10 * (zero bytes + 4 * non-zero bytes).
    """
    zeros = tx.data.count(0)
    nonzeros = len(tx.data) - zeros
    gas = TX_GAS + zeros * TX_DATA_ZERO_GAS + nonzeros * TX_DATA_NONZERO_GAS
    if tx.to is None:
        gas += TX_CREATE_GAS + INITCODE_WORD_GAS * ((len(tx.data) + 31) // 32)
    for _, keys in tx.access_list:
        gas += ACCESS_LIST_ADDRESS_GAS + ACCESS_LIST_STORAGE_KEY_GAS * len(keys)
    gas += AUTHORIZATION_GAS * len(tx.authorization_list)
    if calldata_floor:
        gas = max(gas, TX_GAS + FLOOR_GAS_PER_TOKEN * (zeros + 4 * nonzeros))
    return gas


def validate_transaction(tx: Transaction, *, chain_id: int, calldata_floor: bool) -> None:
    """Check the rules that need no account state. Raises an InvalidTransaction.

    Chain id (an unprotected legacy transaction is accepted), 256-bit bounds of
    fees, value and gas * fee, tip not above fee cap, nonce below 2^64-1,
    initcode size of creates, intrinsic gas.
    """
    _check_chain_id(tx.chain_id, chain_id)
    if tx.max_fee_per_gas > UINT256_MAX:
        raise InvalidTransaction("max fee per gas higher than 2^256-1")
    if tx.max_priority_fee_per_gas > UINT256_MAX:
        raise InvalidTransaction("max priority fee per gas higher than 2^256-1")
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        raise InvalidTransaction("max priority fee per gas higher than max fee per gas")
    if tx.gas_limit * tx.max_fee_per_gas > UINT256_MAX:
        raise InvalidTransaction("gas * max fee per gas higher than 2^256-1")
    if tx.value > UINT256_MAX:
        raise InvalidTransaction("value higher than 2^256-1")
    if tx.nonce >= UINT64_MAX:
        raise InvalidTransaction("nonce has max value")
    if tx.to is None and len(tx.data) > MAX_INITCODE_SIZE:
        raise InvalidTransaction(
            f"max initcode size exceeded: code size {len(tx.data)} limit {MAX_INITCODE_SIZE}"
        )
    needed = intrinsic_gas(tx, calldata_floor=calldata_floor)
    if tx.gas_limit < needed:
        raise IntrinsicGasTooLow(tx.gas_limit, needed)
