"""Solidity beside Vyper: `peerchain compile` / `deploy` through solc-js (installed by
`make solc`, which `make test` runs first), imports, errors, and the large-input fix."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from peerchain.cli import solidity
from peerchain.cli.contracts import CompileError, compile_contract, compile_file
from peerchain.cli.main import cli

SOLCJS = solidity.CHECKOUT / ".solc" / "node_modules" / "solc"


@pytest.fixture(autouse=True)
def solcjs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the solc-js that `make solc` installs, even where a native solc is on PATH."""
    assert (SOLCJS / "soljson.js").is_file(), "solc-js is missing: run `make solc`"
    assert shutil.which("node"), "Node.js is missing (needed for solc-js)"
    real_which = shutil.which
    monkeypatch.setattr(
        solidity.shutil, "which", lambda name: None if name == "solc" else real_which(name)
    )


def _write(root: Path, name: str, body: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n" + body)
    return path


def test_compile_follows_relative_and_package_imports(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "lib/Base.sol",
        "abstract contract Base { function one() external pure returns (uint) { return 1; } }\n",
    )
    _write(
        tmp_path,
        "node_modules/@acme/math/Math.sol",
        "library Math { function twice(uint x) internal pure returns (uint) { return 2 * x; } }\n",
    )
    main = _write(
        tmp_path,
        "Greeter.sol",
        'import "./lib/Base.sol";\nimport {Math} from "@acme/math/Math.sol";\n'
        "contract Greeter is Base { uint public twice = Math.twice(21); }\n"
        "contract Other { }\n",
    )
    found = {c.name: c for c in compile_file(main)}
    assert set(found) == {"Greeter", "Other"}
    assert {entry.get("name") for entry in found["Greeter"].abi} >= {"one", "twice"}
    assert compile_contract(main).name == "Greeter"  # named like the file
    with pytest.raises(CompileError, match="no contract 'Nope'"):
        compile_contract(main, "Nope")


def test_default_evm_version_is_prague(tmp_path: Path) -> None:
    source = _write(
        tmp_path,
        "Blob.sol",
        "contract Blob { function f() external { assembly { mcopy(0, 0, 32) } } }\n",
    )
    request = solidity.standard_input(source, solidity.DEFAULT_EVM_VERSION, False)
    assert request["settings"]["evmVersion"] == "prague"
    assert compile_contract(source).bytecode
    with pytest.raises(CompileError, match="mcopy"):
        compile_contract(source, evm_version="shanghai")  # MCOPY arrived with Cancun


def test_compiler_errors_are_one_line(tmp_path: Path) -> None:
    broken = _write(tmp_path, "Broken.sol", "contract Broken { function f() { x = 1; } }\n")
    result = CliRunner().invoke(cli, ["compile", str(broken)])
    assert result.exit_code == 1
    message = str(result.exception)
    assert "Broken.sol" in message and "Error" in message and "\n" not in message
    missing = _write(tmp_path, "Lonely.sol", 'import "nowhere/X.sol";\ncontract Lonely {}\n')
    with pytest.raises(CompileError, match=re.escape("import 'nowhere/X.sol' not found")):
        compile_file(missing)


def test_no_compiler_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(solidity, "CHECKOUT", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PEERCHAIN_SOLCJS", raising=False)
    source = _write(tmp_path, "A.sol", "contract A {}\n")
    with pytest.raises(CompileError) as failure:
        compile_file(source)
    assert str(failure.value) == solidity.NO_COMPILER
    assert "make solc" in solidity.NO_COMPILER and "solc on PATH" in solidity.NO_COMPILER


def test_compile_command_writes_artifacts(tmp_path: Path) -> None:
    source = _write(
        tmp_path,
        "Counter.sol",
        "contract Counter { uint public n; function inc() external { n += 1; } }\n",
    )
    vyper_source = Path(__file__).resolve().parents[2] / "examples" / "Token.vy"
    result = CliRunner().invoke(
        cli, ["compile", "--out", str(tmp_path / "out"), str(source), str(vyper_source)]
    )
    assert result.exit_code == 0, result.output
    counter = json.loads((tmp_path / "out" / "Counter.json").read_text())
    token = json.loads((tmp_path / "out" / "Token.json").read_text())
    assert counter["bytecode"].startswith("0x60") and any(
        e.get("name") == "inc" for e in counter["abi"]
    )
    assert any(e.get("name") == "transfer" for e in token["abi"])


def _large_input(count: int = 200, lines: int = 300) -> str:
    padding = ("// " + "x" * 97 + "\n") * lines
    sources = {
        f"C{i}.sol": {
            "content": f"// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n{padding}"
            f"contract C{i} {{ function f() external pure returns (uint) {{ return {i}; }} }}\n"
        }
        for i in range(count)
    }
    settings = {"outputSelection": {"C7.sol": {"*": ["abi"]}}}
    return json.dumps({"language": "Solidity", "sources": sources, "settings": settings})


def test_large_standard_json_inputs_compile() -> None:
    """A 6 MB input: solc-js's own compile() overflows the wasm stack on it, the runner
    that passes it on the heap does not."""
    request = _large_input()
    stock = subprocess.run(
        [
            "node",
            "-e",
            f"const s=require({json.dumps(str(SOLCJS))});"
            "process.stdout.write(s.compile(require('fs').readFileSync(0,'utf8')))",
        ],
        input=request,
        capture_output=True,
        text=True,
        check=False,
    )
    assert stock.returncode != 0 and "memory access out of bounds" in stock.stderr
    ours = subprocess.run(
        solidity.compiler_command(), input=request, capture_output=True, text=True, check=True
    )
    [abi_entry] = json.loads(ours.stdout)["contracts"]["C7.sol"]["C7"]["abi"]
    assert abi_entry["name"] == "f"
