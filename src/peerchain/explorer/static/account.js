// The account or contract page: balance, nonce, code size, token facts when the contract
// answers the ERC-20 getters, and the logs it emitted over a bounded recent range.

import { batch, call } from "./rpc.js";
import {
  addressLink,
  badge,
  blockLink,
  el,
  fields,
  mono,
  notice,
  panel,
  table,
  txLink,
} from "./dom.js";
import {
  byteLength,
  decodeAbiString,
  decodeKnownEvent,
  formatEther,
  formatInteger,
  formatUnits,
  isAddress,
  shortHex,
  toBigInt,
  toHex,
  toNumber,
} from "./format.js";
import { newestFirst } from "./views.js";

const LOG_WINDOW = 2000; // blocks of logs read (the node bounds one eth_getLogs range)
const LOG_ROWS = 50;

export async function renderAccount(page, address) {
  if (!isAddress(address)) return page.show(notice("Not an address", address));
  address = address.toLowerCase();
  const [balance, nonce, pendingNonce, code, headHex] = await batch([
    ["eth_getBalance", address, "latest"],
    ["eth_getTransactionCount", address, "latest"],
    ["eth_getTransactionCount", address, "pending"],
    ["eth_getCode", address, "latest"],
    ["eth_blockNumber"],
  ]);
  const head = toNumber(headHex);
  const from = Math.max(0, head - LOG_WINDOW + 1);
  const isContract = byteLength(code) > 0;
  const logFilter = { address, fromBlock: toHex(from), toBlock: toHex(head) };
  const [logs, token, power] = await Promise.all([
    call("eth_getLogs", logFilter).catch((error) => error),
    isContract ? tokenInfo(address) : null,
    page.node.network ? validatorPower(address) : null,
  ]);
  const kind = isContract ? "Contract" : "Account";
  const pending = toNumber(pendingNonce) - toNumber(nonce);
  page.title(`${kind} ${shortHex(address)}`);
  page.show(
    el("h1", null, kind, power != null ? badge("validator", "info") : null),
    panel(
      "Overview",
      fields([
        ["Address", mono(address)],
        ["Balance", formatEther(balance)],
        ["Nonce", `${toNumber(nonce)}${pending > 0 ? ` (${pending} pending)` : ""}`],
        [
          "Code",
          isContract
            ? `${formatInteger(byteLength(code))} bytes`
            : el("span", { class: "muted" }, "none (an externally owned account)"),
        ],
        power != null ? ["Voting power", formatInteger(power)] : null,
        ...(token ? tokenRows(token) : []),
      ]),
    ),
    panel(
      `Logs emitted in blocks ${formatInteger(from)} to ${formatInteger(head)}`,
      logsView(logs),
      `the last ${formatInteger(LOG_WINDOW)} blocks at most`,
    ),
  );
  page.onHead(() => page.refresh());
}

function logsView(logs) {
  if (logs instanceof Error) return notice("Could not read the logs", logs.message, "error");
  const argument = ([name, value, kind]) =>
    el(
      "span",
      { class: "arg-inline" },
      `${name} `,
      kind === "address" ? addressLink(value, { short: true }) : mono(formatInteger(value)),
    );
  const rows = [...logs]
    .sort(newestFirst)
    .slice(0, LOG_ROWS)
    .map((log) => {
      const event = decodeKnownEvent(log);
      const topic = log.topics.length ? shortHex(log.topics[0], 10, 6) : "anonymous";
      const data = byteLength(log.data) ? shortHex(log.data, 18, 8) : "no data";
      return [
        blockLink(toNumber(log.blockNumber)),
        txLink(log.transactionHash, { short: true }),
        event ? badge(event.name, "info") : mono(topic),
        event?.args.length ? event.args.map(argument) : mono(data),
      ];
    });
  const more =
    logs.length > LOG_ROWS
      ? el("p", { class: "muted" }, `Showing the newest ${LOG_ROWS} of ${logs.length} logs.`)
      : null;
  return [
    table(["Block", "Transaction", "Event", "Details"], rows, {
      empty: "No logs from this address in these blocks.",
    }),
    more,
  ];
}

const GETTERS = {
  name: "0x06fdde03",
  symbol: "0x95d89b41",
  decimals: "0x313ce567",
  totalSupply: "0x18160ddd",
};

/** ERC-20 name, symbol, decimals and total supply, or null if the contract lacks one. */
async function tokenInfo(address) {
  const read = (selector) => ["eth_call", { to: address, input: selector }, "latest"];
  let answers;
  try {
    answers = await batch(Object.values(GETTERS).map(read));
  } catch {
    return null; // a getter reverted: not a token
  }
  const [name, symbol, decimals, supply] = answers;
  const token = { name: decodeAbiString(name), symbol: decodeAbiString(symbol) };
  if (token.name === null || token.symbol === null) return null;
  if (byteLength(decimals) !== 32 || byteLength(supply) !== 32) return null;
  return { ...token, decimals: toNumber(decimals), supply: toBigInt(supply) };
}

function tokenRows(token) {
  const decimals = token.decimals <= 77 ? token.decimals : 0;
  const supply = `${formatUnits(token.supply, decimals, decimals)} ${token.symbol} `;
  const base = el("span", { class: "muted" }, `(${formatInteger(token.supply)} base units)`);
  return [
    ["Token", `${token.name} (${token.symbol})`],
    ["Total supply", [supply, base]],
    ["Decimals", String(token.decimals)],
  ];
}

async function validatorPower(address) {
  const validators = await call("peerchain_validators");
  const match = validators.find((v) => v.address.toLowerCase() === address);
  return match ? toBigInt(match.power) : null;
}
