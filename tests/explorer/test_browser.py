"""The explorer in a real headless browser (Chromium, when installed): the DOM each page
builds from a served dev chain, and from a node that has the peerchain_ methods."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import vyper

from peerchain.explorer import STATIC_DIR
from peerchain.rpc import RpcConfig, create_app, dispatcher_of
from peerchain.rpc.peerchain import network_methods

from .harness import (
    ADDRS,
    TOKEN_SOURCE,
    Chain,
    Client,
    FakeNetwork,
    Served,
    abi_string,
    dev_node,
    serve_chain,
)

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
# Run by `make test-browser`, which installs Debian's chromium first.
pytestmark = pytest.mark.browser
HOSTILE_NAME = "<i id=pwn>x</i>"


def render(served: Served, fragment: str) -> str:
    """The DOM of `#fragment` once the page has settled (the browser's virtual time)."""
    assert CHROMIUM is not None, "Chromium is not installed (make test-browser installs it)"

    async def dump(client: Client) -> str:
        with tempfile.TemporaryDirectory() as profile:
            browser = await asyncio.create_subprocess_exec(
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                f"{served.base_url}/#{fragment}",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            out, _ = await browser.communicate()
        assert browser.returncode == 0
        return out.decode()

    return served.run(dump)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """The harness chain plus a token whose name is markup."""
    node, store = dev_node(Path(tmp_path_factory.mktemp("browser")))
    result = serve_chain(node)
    try:
        bytecode = vyper.compile_code(TOKEN_SOURCE, output_formats=["bytecode"])["bytecode"]
        args = (96).to_bytes(32, "big") + (160).to_bytes(32, "big") + (5).to_bytes(32, "big")
        args += abi_string(HOSTILE_NAME) + abi_string("PWN")
        tx = result.served.rpc(
            "eth_sendTransaction", {"from": ADDRS[2], "input": bytecode + args.hex()}
        )
        result.hostile_token = result.served.rpc("eth_getTransactionReceipt", tx)["contractAddress"]
        yield result
    finally:
        result.served.close()
        store.close()


@pytest.fixture(scope="module")
def network(chain: Chain) -> Iterator[Served]:
    """The same chain behind an app that also answers the peerchain_ methods."""
    app = create_app(chain.node, RpcConfig(), explorer_dir=STATIC_DIR)
    dispatcher_of(app).register_namespace("peerchain", network_methods(FakeNetwork()))
    served = Served(app)
    yield served
    served.close()


def test_home_lists_the_latest_blocks_and_transactions_live(chain: Chain) -> None:
    dom = render(chain.served, "/")
    assert 'class="status live"' in dom
    for n in (1, 2, 3):
        assert f'href="#/block/{n}"' in dom
    assert f'href="#/tx/{chain.transfer_tx}"' in dom and "contract creation" in dom
    assert "dev node" in dom and 'id="network-link" hidden=""' in dom


def test_transaction_page_shows_receipt_and_decoded_log(chain: Chain) -> None:
    dom = render(chain.served, f"/tx/{chain.transfer_tx}")
    assert chain.transfer_tx in dom and "success" in dom
    assert "transfer(address,uint256)" in dom and ">Transfer<" in dom
    assert f'href="#/address/{ADDRS[1]}"' in dom and ">25<" in dom
    assert "Topic 2" in dom


def test_account_page_shows_token_facts_and_logs(chain: Chain) -> None:
    dom = render(chain.served, f"/address/{chain.token}")
    assert "Contract" in dom and "Peer (PEER)" in dom and "1,000 base units" in dom
    assert dom.count(">Transfer<") == 2
    assert f'href="#/tx/{chain.deploy_tx}"' in dom


def test_block_page_and_search(chain: Chain) -> None:
    dom = render(chain.served, "/search/2")
    assert "Block 2" in dom and "Commit certificate" not in dom
    assert f'href="#/tx/{chain.transfer_tx}"' in dom and "previous" in dom
    assert "Transaction" in render(chain.served, f"/search/{chain.transfer_tx}")
    assert "Nothing found" in render(chain.served, "/search/0x" + "ee" * 32)


def test_chain_data_is_shown_as_text_never_as_markup(chain: Chain) -> None:
    dom = render(chain.served, f"/address/{chain.hostile_token}")
    assert "&lt;i id=pwn&gt;x&lt;/i&gt; (PWN)" in dom
    assert 'id="pwn"' not in dom


def test_network_page_and_commit_certificate(network: Served) -> None:
    dom = render(network, "/network")
    assert 'id="network-link" hidden' not in dom
    assert "prevote" in dom and "total power 40" in dom and "banned until" in dom
    assert "<svg" in dom and "this node" in dom
    assert "Evidence of double signing" in dom and "1 kept" in dom
    assert "0x1111111111…" in dom or "0x11111111" in dom
    assert "Open proposals" in dom and "20 of 40" in dom and ">remove<" in dom
    dom = render(network, "/block/2")
    assert "Commit certificate" in dom
    assert "3 of 4 validators, power 30 of 40 (75 %" in dom
    assert "not included" in dom
    assert 'href="#/validators/2"' in dom


def test_validator_set_of_each_height_with_what_changed_there(network: Served) -> None:
    dom = render(network, "/validators/6")
    assert "Validators of height 6" in dom and "3 validators, total power 40" in dom
    assert ">removed<" in dom and "power 10 → 20" in dom
    assert "decided in block" in dom and 'href="#/block/4"' in dom
    assert 'href="#/validators/5"' in dom and 'href="#/validators/7"' in dom
    dom = render(network, "/validators/5")
    assert "4 validators, total power 40" in dom and ">removed<" not in dom
    assert "Changed here" in dom and '<dd><span class="muted">no</span></dd>' in dom
    dom = render(network, "/validators/101")
    assert "Not known yet" in dom and "Block 99 decides this set" in dom
    assert 'href="#/validators/102"' not in dom
    assert 'href="#/validators/4"' in render(network, "/network")
