"""The explorer's files as shipped: flat, self-contained, and writing chain data into the
page only as text; its formatting module's unit tests (run by Node.js when installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from peerchain.core.crypto import keccak256
from peerchain.explorer import STATIC_DIR

HERE = Path(__file__).resolve().parent
SCRIPTS = sorted(STATIC_DIR.glob("*.js"))
# Ways of turning a string into markup or code.
UNSAFE = re.compile(
    r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
    r"createContextualFragment|DOMParser|\bsrcdoc\b|javascript:"
)


def test_files_are_flat_and_of_served_types() -> None:
    assert SCRIPTS, STATIC_DIR
    for path in STATIC_DIR.iterdir():
        assert path.is_file() and path.suffix in {".html", ".js", ".css", ".svg"}, path


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_parse_strings_as_html_or_code(script: Path) -> None:
    text = script.read_text()
    assert not UNSAFE.search(text), UNSAFE.search(text)
    # Same origin only: no absolute URLs to fetch or load from (an XML namespace is a name).
    assert not re.search(r"""["'`]https?://""", text.replace('"http://www.w3.org/2000/svg"', ""))


def test_modules_import_only_shipped_modules() -> None:
    names = {p.name for p in SCRIPTS}
    for script in SCRIPTS:
        for target in re.findall(r'^import .* from "([^"]+)";$', script.read_text(), re.M):
            assert target.startswith("./") and target[2:] in names, (script.name, target)


def test_known_event_and_method_names_match_their_hashes() -> None:
    source = (STATIC_DIR / "format.js").read_text()
    events = re.findall(r'"(0x[0-9a-f]{64})":\s*"([^"]+)"', source)
    methods = re.findall(r'"(0x[0-9a-f]{8})":\s*"([^"]+)"', source)
    assert len(events) == 2 + 11 and len(methods) == 3  # token events, example dApps' events
    for digest, signature in events:
        assert keccak256(signature.encode()).hex() == digest[2:], signature
    for selector, signature in methods:
        assert keccak256(signature.encode())[:4].hex() == selector[2:], signature


def test_formatting_module_unit_tests(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed to test the explorer's JavaScript"
    for path in SCRIPTS:
        shutil.copy(path, tmp_path)
    shutil.copy(HERE / "format.test.mjs", tmp_path)
    (tmp_path / "package.json").write_text(json.dumps({"type": "module"}))
    done = subprocess.run(
        [node, "--test", "format.test.mjs"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^# pass [1-9]", done.stdout, re.M), done.stdout
