"""A minimal blocking JSON-RPC client for the CLI's commands."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from peerchain.core.errors import PeerChainError


class RpcError(PeerChainError):
    """The node answered with a JSON-RPC error, or could not be reached."""

    def __init__(self, message: str, code: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class RpcClient:
    """Calls methods of a node over HTTP JSON-RPC. A URL that is not http(s) raises
    RpcError."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise RpcError(f"{url!r} is not a node's JSON-RPC URL like http://127.0.0.1:8545")
        self.url = url
        self.timeout = timeout
        self._id = 0

    def request(self, method: str, *params: Any) -> Any:
        """Call `method`; return its result. Raises RpcError."""
        self._id += 1
        body = json.dumps(
            {"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)}
        ).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise RpcError(f"{self.url} answered HTTP {exc.code}") from exc
        except urllib.error.URLError as exc:
            raise RpcError(f"cannot reach {self.url}: {_reason(exc.reason)}") from exc
        except OSError as exc:
            raise RpcError(f"cannot reach {self.url}: {_reason(exc)}") from exc
        except ValueError as exc:
            raise RpcError(f"{self.url} sent a malformed answer") from exc
        if "error" in answer:
            err = answer["error"]
            raise RpcError(str(err.get("message")), err.get("code"), err.get("data"))
        return answer.get("result")

    def wait_for_receipt(self, tx_hash: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll for a transaction's receipt until it is mined. Raises RpcError on timeout."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            receipt = self.request("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return dict(receipt)
            if time.monotonic() > deadline:
                raise RpcError(f"transaction {tx_hash} not mined within {timeout:g}s")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def _reason(reason: object) -> str:
    """Why a connection failed, in words ("connection refused", "timed out")."""
    if isinstance(reason, OSError):
        if isinstance(reason, TimeoutError):
            return "no answer in time"
        if reason.strerror:
            return reason.strerror.lower()
    return str(reason) or type(reason).__name__
