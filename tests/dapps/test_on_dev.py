"""The example dApps on a real `peerchain dev` process (chain time moved with evm_increaseTime)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from web3 import Web3

from peerchain.cli.main import cli
from peerchain.testing.processes import NodeProcess, free_port, wait_for_heavy_queries

from . import scenarios


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[scenarios.Chain]:
    directory = tmp_path_factory.mktemp("dev")
    port = free_port()
    process = NodeProcess(
        ["dev", "--datadir", str(directory / "data"), "--port", str(port)],
        directory / "node.log",
        ready_marker="JSON-RPC:",
    ).start()
    try:
        wait_for_heavy_queries(f"http://127.0.0.1:{port}")
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 30}))

        def advance(seconds: int) -> None:
            latest = int(w3.eth.get_block("latest")["timestamp"])
            for method, params in (
                ("evm_setNextBlockTimestamp", [latest + seconds]),
                ("evm_mine", []),
            ):
                assert "error" not in w3.provider.make_request(method, params)  # type: ignore[arg-type]

        yield scenarios.Chain.of(w3, advance)
    finally:
        process.stop()


def test_token(chain: scenarios.Chain) -> None:
    scenarios.token(chain)


def test_dao_vote(chain: scenarios.Chain) -> None:
    scenarios.dao(chain, voting_period=3600)


def test_escrow(chain: scenarios.Chain) -> None:
    scenarios.escrow(chain, wait=86_400)


def test_content_registry(chain: scenarios.Chain) -> None:
    scenarios.content_registry(chain)


def test_deploy_command_compiles_and_deploys_solidity(
    chain: scenarios.Chain, tmp_path: Path
) -> None:
    url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    escrow = str(scenarios.EXAMPLES / "Escrow.sol")
    arguments = ["--rpc", url, "--from", chain.address(0), "--keystore", str(tmp_path), escrow]
    result = CliRunner().invoke(cli, ["deploy", *arguments])
    assert result.exit_code == 0, result.output
    address = result.output.strip().splitlines()[-1].removeprefix("deployed at ")
    assert len(chain.w3.eth.get_code(Web3.to_checksum_address(address))) > 100
    token = str(scenarios.EXAMPLES / "Token.vy")
    arguments = ["--rpc", url, "--from", chain.address(0), "--keystore", str(tmp_path), token]
    result = CliRunner().invoke(cli, ["deploy", *arguments, "Peer", "PEER", "1000"])
    assert result.exit_code == 0, result.output


def test_examples_are_the_ones_shipped() -> None:
    shipped = {p.name for p in scenarios.EXAMPLES.iterdir()}
    assert {"Token.vy", "Dao.vy", "Escrow.sol", "ContentRegistry.vy"} <= shipped
    assert Path(scenarios.EXAMPLES, "README.md").is_file()
