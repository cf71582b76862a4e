"""Errors expected during normal operation, grouped by who is at fault.

`PeerChainError` is the root. Families below it say whose input was bad:
a client's transaction (`InvalidTransaction`), bytes from a peer or a file
(`DecodeError`), or the node's own broken invariant (`ConsensusHalted`).
"""

from __future__ import annotations


class PeerChainError(Exception):
    """Root of every error PeerChain raises on purpose."""


class DecodeError(PeerChainError):
    """Bytes could not be decoded into the expected structure."""


class InvalidTransaction(PeerChainError):
    """A transaction was rejected; the message is what clients are shown."""


class InvalidSignature(InvalidTransaction):
    def __init__(self, message: str = "invalid sender") -> None:
        super().__init__(message)


class WrongChainId(InvalidTransaction):
    def __init__(self, got: int | None, expected: int) -> None:
        super().__init__(f"invalid chain id for signer: have {got} want {expected}")
        self.got = got
        self.expected = expected


class NonceTooLow(InvalidTransaction):
    def __init__(self, address: str, tx_nonce: int, state_nonce: int) -> None:
        super().__init__(f"nonce too low: address {address}, tx: {tx_nonce} state: {state_nonce}")
        self.tx_nonce = tx_nonce
        self.state_nonce = state_nonce


class InsufficientFunds(InvalidTransaction):
    def __init__(self, address: str, balance: int, cost: int) -> None:
        super().__init__(
            "insufficient funds for gas * price + value: "
            f"address {address} have {balance} want {cost}"
        )
        self.balance = balance
        self.cost = cost


class IntrinsicGasTooLow(InvalidTransaction):
    def __init__(self, gas: int, needed: int) -> None:
        super().__init__(f"intrinsic gas too low: gas {gas}, minimum needed {needed}")


class GasLimitExceeded(InvalidTransaction):
    def __init__(self, gas: int, limit: int) -> None:
        super().__init__(f"exceeds block gas limit: gas {gas}, block gas limit {limit}")


class FeeTooLow(InvalidTransaction):
    """Max fee per gas is below the current base fee or the node's minimum."""


class ReplacementUnderpriced(InvalidTransaction):
    def __init__(self) -> None:
        super().__init__("replacement transaction underpriced")


class OversizedTransaction(InvalidTransaction):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"oversized data: transaction size {size}, limit {limit}")


class AlreadyKnown(InvalidTransaction):
    def __init__(self) -> None:
        super().__init__("already known")


class TxPoolFull(InvalidTransaction):
    def __init__(self) -> None:
        super().__init__("txpool is full")


class ListenError(PeerChainError):
    """An address this node is configured to listen on cannot be bound (in use, not this
    host's, no permission): the configuration, or another process, is at fault."""

    def __init__(self, what: str, host: str, port: int, reason: str, hint: str) -> None:
        super().__init__(f"cannot listen for {what} on {host}:{port}: {reason}; {hint}")


class ConsensusHalted(PeerChainError):
    """A consensus invariant broke; the node stops signing instead of going on."""
