"""The explorer over HTTP: the page at /, its files under /explorer/, refused traversal,
the Content-Security-Policy, and JSON-RPC over POST and WebSocket on / beside it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from peerchain.explorer import STATIC_DIR
from peerchain.rpc import RpcConfig, create_app

from .harness import Chain, Client, Served

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def _csp(headers: dict[str, str]) -> dict[str, str]:
    policy = headers["Content-Security-Policy"]
    return {d.split()[0]: d.partition(" ")[2] for d in policy.split("; ")}


def test_root_serves_the_page_with_a_same_origin_policy(chain: Chain) -> None:
    status, headers, body = chain.served.get("/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<script type="module" src="/explorer/app.js"></script>' in body
    csp = _csp(headers)
    host = f"127.0.0.1:{chain.served.client.port}"
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["connect-src"] == f"'self' ws://{host} wss://{host}"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_every_file_the_page_loads_is_served_with_its_type(chain: Chain) -> None:
    index = (STATIC_DIR / "index.html").read_text()
    wanted = set(re.findall(r'(?:src|href)="/explorer/([^"]+)"', index))
    for script in STATIC_DIR.glob("*.js"):
        wanted |= set(re.findall(r'from "\./([^"]+)"', script.read_text()))
    assert {"app.js", "explorer.css", "rpc.js", "live.js", "format.js"} <= wanted
    for name in sorted(wanted):
        status, headers, body = chain.served.get(f"/explorer/{name}")
        assert status == 200, name
        assert headers["Content-Type"].split(";")[0] == CONTENT_TYPES[Path(name).suffix], name
        assert body == (STATIC_DIR / name).read_bytes()
        assert "Content-Security-Policy" in headers


@pytest.mark.parametrize(
    "path",
    [
        "/explorer/../server.py",
        "/explorer/../../rpc/server.py",
        "/explorer/..%2fserver.py",
        "/explorer/%2e%2e%2f%2e%2e%2frpc%2fserver.py",
        "/explorer/%2e%2e/%2e%2e/rpc/server.py",
        "/explorer/..%5c..%5crpc%5cserver.py",
        "/explorer/%252e%252e%252fassets.py",
        "/explorer/%2fetc%2fpasswd",
        "/explorer//etc/passwd",
        "/explorer/assets.py",
        "/explorer/static",
        "/explorer/..",
        "/explorer/",
        "/explorer/app.js%00.html",
    ],
)
def test_paths_outside_the_static_files_are_refused(chain: Chain, path: str) -> None:
    status, _, body = chain.served.raw(path)
    assert status in (400, 404), (path, status)
    assert b"import" not in body and b"root:" not in body


def test_only_files_directly_in_the_directory_with_known_types_are_served(
    chain: Chain, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>")
    (tmp_path / "a.js").write_text("export const a = 1;\n")
    (tmp_path / "secret.py").write_text("KEY = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.js").write_text("export const b = 2;\n")
    served = Served(create_app(chain.node, RpcConfig(), explorer_dir=tmp_path))
    try:
        assert served.get("/explorer/a.js")[0] == 200
        assert served.get("/explorer/secret.py")[0] == 404
        assert served.raw("/explorer/sub/b.js")[0] == 404
        (tmp_path / "a.js").write_text("changed")  # files are read once, at start
        assert served.get("/explorer/a.js")[2] == b"export const a = 1;\n"
    finally:
        served.close()


def test_a_directory_without_index_is_refused_at_start(chain: Chain, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        create_app(chain.node, RpcConfig(), explorer_dir=tmp_path)


def test_an_odd_host_header_leaves_only_self_in_connect_src(chain: Chain) -> None:
    for host in ("evil.example:1 'unsafe-inline'", "a;b", "*"):
        status, head, _ = chain.served.raw("/", host=host)
        [policy] = [line for line in head.split("\r\n") if line.startswith("Content-Security")]
        assert status == 200 and "connect-src 'self';" in policy, (host, policy)


def test_post_and_websocket_on_root_still_speak_json_rpc(chain: Chain) -> None:
    head = chain.served.rpc("eth_blockNumber")
    assert int(head, 16) >= 2

    async def subscribe_and_mine(client: Client) -> tuple[str, dict[str, object]]:
        async with client.ws_connect("/") as ws:
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}))
            chain_id = json.loads(await ws.receive_str())["result"]
            request = {"jsonrpc": "2.0", "id": 2, "method": "eth_subscribe", "params": ["newHeads"]}
            await ws.send_str(json.dumps(request))
            assert "result" in json.loads(await ws.receive_str())
            async with client.post("/", json={"jsonrpc": "2.0", "id": 3, "method": "evm_mine"}):
                pass
            message = json.loads(await ws.receive_str())
            return chain_id, message["params"]["result"]

    chain_id, header = chain.served.run(subscribe_and_mine)
    assert chain_id == "0x539"
    assert int(header["number"], 16) == int(head, 16) + 1  # type: ignore[call-overload]


def test_without_an_explorer_directory_get_root_is_still_405(chain: Chain) -> None:
    served = Served(create_app(chain.node, RpcConfig()))
    try:
        status, _, body = served.get("/")
        assert status == 405 and json.loads(body)["error"]["code"] == -32600
        assert served.get("/explorer/app.js")[0] == 404
    finally:
        served.close()
