"""PeerChain: a blockchain node in Python."""

__version__ = "0.1.0"
