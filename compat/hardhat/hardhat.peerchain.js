// OpenZeppelin's Hardhat config plus what `make test-compat` needs:
// - solc-js from npm instead of a downloaded compiler (nothing but registries is
//   reachable), run through peerchain's own solc-js runner so that large inputs compile;
// - the `localhost` network (where `npx hardhat node` would be) pointed at a
//   `peerchain dev --compat hardhat` node at PEERCHAIN_URL, with its dev accounts
//   (remote signing). As with a Hardhat node, hardhat-ethers sees `hardhat_metadata`
//   answered and gives every transaction the block gas limit instead of estimating it,
//   which OpenZeppelin's fixtures rely on (they send a delegation and a transfer whose
//   gas depends on it at once).
'use strict';

const path = require('path');
const { execFileSync } = require('child_process');
const { subtask } = require('hardhat/config');
const {
  TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD,
  TASK_COMPILE_SOLIDITY_RUN_SOLCJS,
} = require('hardhat/builtin-tasks/task-names');

const config = require('./hardhat.config.js');

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async ({ solcVersion }) => {
  const solcPackage = require('solc/package.json');
  if (solcPackage.version !== solcVersion) {
    throw new Error(`solc ${solcVersion} wanted, npm's solc is ${solcPackage.version}`);
  }
  return {
    compilerPath: require.resolve('solc/soljson.js'),
    isSolcJs: true,
    version: solcVersion,
    longVersion: require('solc').version(),
  };
});

subtask(TASK_COMPILE_SOLIDITY_RUN_SOLCJS, async ({ input, solcJsPath }) => {
  // solcjs-compile.js is src/peerchain/cli/solcjs/compile.js: it takes the solc package's directory.
  const runner = path.join(__dirname, 'solcjs-compile.js');
  const output = execFileSync(process.execPath, [runner, path.dirname(solcJsPath)], {
    input: JSON.stringify(input),
    maxBuffer: 1 << 30,
  });
  return JSON.parse(output.toString('utf8'));
});

config.networks.localhost = {
  url: process.env.PEERCHAIN_URL || 'http://127.0.0.1:8545',
  accounts: 'remote',
  timeout: 600000,
};
config.mocha = { ...(config.mocha || {}), timeout: 600000 };

module.exports = config;
