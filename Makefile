# PeerChain: `make dev`, `make devnet`, `make test`. Each target sets up what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install dev devnet test test-slow test-browser test-netns test-fuzz lint typecheck solc bench bench-dev test-compat clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/peerchain dev --datadir $(or $(DATADIR),.peerchain/dev)

devnet: $(STAMP)
	$(BIN)/peerchain devnet -n 4 --dir $(or $(DEVNET_DIR),.peerchain/devnet)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks compat
	$(BIN)/ruff format --check src tests benchmarks compat

# The source tree, and the test doubles that stand in for its protocols.
typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict tests/rpc/fake_view.py

# solc-js (npm) for Solidity in `peerchain compile/deploy` and its tests; a solc on PATH
# is used first when there is one. Same version as SOLCJS_PACKAGE in cli/solidity.py.
SOLCJS := .solc/node_modules/solc/soljson.js
$(SOLCJS):
	npm install --silent --no-audit --no-fund --prefix .solc solc@0.8.30

solc: $(SOLCJS)

test: lint typecheck $(SOLCJS)
	$(BIN)/pytest -q

test-slow: $(STAMP) $(SOLCJS)
	$(BIN)/pytest -q --slow -m slow

# The explorer in a real browser: installs Debian's chromium when it is missing.
test-browser: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	$(BIN)/pytest -q --browser -m browser tests/explorer

# Nodes in Linux network namespaces (partitions): needs root and iproute2.
test-netns: $(STAMP)
	$(BIN)/pytest -q --slow -m netns

# Fresh randomness: Hypothesis not derandomized, and the consensus simulator on a seed range
# no other run tried, both from SEED (the date unless given). A failure prints its example
# or seed and how to pin it; `make test-fuzz SEED=n` replays a run. FUZZ_TESTS: every folder
# with Hypothesis tests.
SEED ?= $(shell date +%Y%m%d)
FUZZ_TESTS := tests/core tests/consensus tests/p2p tests/rpc tests/execution
test-fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz PEERCHAIN_FUZZ_SEED=$(SEED) \
	  $(BIN)/pytest -q --hypothesis-seed=$(SEED) $(FUZZ_TESTS)

# OpenZeppelin Contracts v5.1.0's own tests (ERC20, ERC721, Governor, VestingWallet, Address)
# against `peerchain dev --compat hardhat` and, beside it, Hardhat's in-process network.
# npm's @openzeppelin/contracts has no tests, so OZ_DIR must be a checkout of the v5.1.0
# tag; its npm dependencies and solc-js 0.8.24 come from npm. SUITES="ERC20 Address" to narrow.
test-compat: $(STAMP)
	@test -n "$(OZ_DIR)" || { echo "set OZ_DIR to a checkout of openzeppelin-contracts at v5.1.0"; exit 1; }
	$(BIN)/python compat/hardhat/run.py --oz-dir $(OZ_DIR) --work .compat/openzeppelin $(foreach s,$(SUITES),--suite $(s))

bench: $(STAMP)
	$(BIN)/python benchmarks/consensus_sim.py

# Dev-node ERC-20 load against Hardhat's node (npm hardhat@2, installed under .bench/)
# in the same run, three rounds; then the one-core block-import benchmark.
bench-dev: $(STAMP)
	[ -x .bench/hardhat/node_modules/.bin/hardhat ] || npm install --silent --no-audit --no-fund --prefix .bench/hardhat hardhat@2
	$(BIN)/python benchmarks/dev_throughput.py -n $(or $(N),2000) --rounds 3 --hardhat .bench/hardhat
	$(BIN)/python benchmarks/execution_import.py --txs 2000 --per-block 1000

clean:
	rm -rf $(VENV) .peerchain .solc .pytest_cache .mypy_cache .ruff_cache
