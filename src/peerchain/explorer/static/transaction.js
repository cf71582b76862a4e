// The transaction page: what was sent, its receipt (status, gas, fee) and its logs with
// address, topics and data (Transfer and Approval events decoded).

import { batch } from "./rpc.js";
import { addressLink, badge, blockLink, dataBox, el, fields, mono, notice, panel } from "./dom.js";
import {
  byteLength,
  decodeKnownEvent,
  describeInput,
  describeTxType,
  formatEther,
  formatGwei,
  formatInteger,
  isHash,
  shortHex,
  toBigInt,
  toNumber,
} from "./format.js";
import { blocksAgo, gasUsage, statusBadge, timeWithAge } from "./views.js";

export async function renderTransaction(page, hash) {
  if (!isHash(hash)) return page.show(notice("Not a transaction hash", hash));
  const [tx, receipt, head] = await batch([
    ["eth_getTransactionByHash", hash],
    ["eth_getTransactionReceipt", hash],
    ["eth_blockNumber"],
  ]);
  if (!tx) {
    const why = "This node knows no mined or pending transaction with this hash.";
    return page.show(notice("Transaction not found", why));
  }
  page.title(`Transaction ${shortHex(hash)}`);
  if (!receipt) page.onHead(() => page.refresh()); // pending: show it once mined
  const logs = receipt?.logs ?? [];
  page.show(
    el("h1", null, "Transaction"),
    panel("Overview", overview(page, tx, receipt, toNumber(head))),
    receipt
      ? panel(
          `Logs (${logs.length})`,
          logs.length ? logs.map(logCard) : el("p", { class: "empty" }, "No logs emitted."),
        )
      : null,
  );
}

function overview(page, tx, receipt, head) {
  const number = toNumber(tx.blockNumber);
  const muted = (text) => el("span", { class: "muted" }, text);
  const where = () => ` · position ${toNumber(tx.transactionIndex)}, ${blocksAgo(head - number)}`;
  const created = receipt?.contractAddress
    ? addressLink(receipt.contractAddress)
    : muted("contract creation");
  const fee = receipt ? toBigInt(receipt.gasUsed) * toBigInt(receipt.effectiveGasPrice) : null;
  const method = describeInput(tx.input);
  return fields([
    ["Hash", mono(tx.hash)],
    [
      "Status",
      [statusBadge(receipt), receipt && page.node.network ? muted(" final (committed)") : null],
    ],
    number != null ? ["Block", [blockLink(number), muted(where())]] : null,
    tx.blockTimestamp ? ["Time", timeWithAge(tx.blockTimestamp)] : null,
    ["From", addressLink(tx.from)],
    tx.to ? ["To", addressLink(tx.to)] : ["Created", created],
    ["Value", formatEther(tx.value)],
    fee != null ? ["Fee", formatEther(fee)] : null,
    [
      "Gas",
      receipt
        ? `${gasUsage(receipt.gasUsed, tx.gas)} used`
        : `limit ${formatInteger(toBigInt(tx.gas))}`,
    ],
    ["Gas price", formatGwei(receipt ? receipt.effectiveGasPrice : tx.gasPrice)],
    tx.maxFeePerGas != null
      ? [
          "Fee caps",
          `max ${formatGwei(tx.maxFeePerGas)}, priority ${formatGwei(tx.maxPriorityFeePerGas)}`,
        ]
      : null,
    ["Nonce", String(toNumber(tx.nonce))],
    ["Type", describeTxType(tx.type)],
    method ? ["Method", mono(method)] : null,
    ["Input", [dataBox(tx.input), muted(`${formatInteger(byteLength(tx.input))} bytes`)]],
  ]);
}

/** One log: emitting address, the decoded event if well known, topics and data. */
function logCard(log) {
  const event = decodeKnownEvent(log);
  const argument = ([name, value, kind]) =>
    el(
      "div",
      null,
      el("span", { class: "arg" }, name),
      kind === "address" ? addressLink(value) : mono(formatInteger(value)),
    );
  return el(
    "article",
    { class: "log" },
    el(
      "header",
      null,
      el("span", { class: "log-index" }, `#${toNumber(log.logIndex)}`),
      addressLink(log.address),
      event ? badge(event.name, "info") : null,
    ),
    event?.args.length ? el("div", { class: "event" }, event.args.map(argument)) : null,
    fields([
      ...log.topics.map((topic, i) => [`Topic ${i}`, mono(topic)]),
      ["Data", dataBox(log.data)],
    ]),
  );
}
