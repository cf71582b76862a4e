"""The block explorer: a static web app (HTML, CSS, ES modules, no build step) that reads
the chain through the node's own JSON-RPC over HTTP and a WebSocket.

The node's JSON-RPC server serves it when given the directory:
`serve(view, config, explorer_dir=STATIC_DIR)`.
"""

from peerchain.explorer.assets import STATIC_DIR

__all__ = ["STATIC_DIR"]
