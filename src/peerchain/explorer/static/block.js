// The block page: header fields, transactions with their status, and on network nodes
// the commit certificate.

import { batch, call } from "./rpc.js";
import {
  addressLink,
  blockHashLink,
  blockLink,
  dataBox,
  el,
  fields,
  mono,
  notice,
  num,
  panel,
  table,
  txLink,
} from "./dom.js";
import {
  formatEther,
  formatGwei,
  formatInteger,
  isHash,
  toBigInt,
  toHex,
  toNumber,
} from "./format.js";
import { commitPanel } from "./network.js";
import { gasUsage, recipient, statusBadge, timeWithAge } from "./views.js";

/** `id` is a block number (digits) or a block hash. */
export async function renderBlock(page, id) {
  const byNumber = /^\d+$/.test(id);
  if (!byNumber && !isHash(id)) return page.show(notice("Not a block number or hash", id));
  const block = byNumber
    ? await call("eth_getBlockByNumber", toHex(id), true)
    : await call("eth_getBlockByHash", id, true);
  if (!block) return blockNotFound(page, id, byNumber);
  const number = toNumber(block.number);
  const [receipts, headHex] = await batch([
    ["eth_getBlockReceipts", block.hash],
    ["eth_blockNumber"],
  ]);
  const head = toNumber(headHex);
  const certificate = page.node.network ? await commitPanel(block) : null;
  page.title(`Block ${number}`);
  page.show(
    el("h1", null, `Block ${formatInteger(number)}`, pager(number, head)),
    panel("Header", [headerFields(page, block), moreHeaderFields(block)]),
    panel("Transactions", transactionsTable(block, receipts ?? [])),
    certificate,
  );
  if (number === head) page.onHead(() => page.refresh()); // to link the next block
}

function blockNotFound(page, id, byNumber) {
  if (!byNumber) {
    return page.show(notice("Block not found", `No block on this chain has the hash ${id}.`));
  }
  page.show(notice(`Block ${id} not found`, "Not committed yet: this page shows it when it is."));
  page.onHead((header) => toNumber(header.number) >= Number(id) && page.refresh());
}

function pager(number, head) {
  return el(
    "span",
    { class: "pager" },
    number > 0 ? blockLink(number - 1, "‹ previous") : null,
    number < head ? blockLink(number + 1, "next ›") : el("span", { class: "muted" }, "latest"),
  );
}

function headerFields(page, block) {
  const number = toNumber(block.number);
  const certified =
    page.node.network && number > 0
      ? el("div", { class: "muted" }, `the hash of block ${number - 1}'s commit certificate`)
      : null;
  return fields([
    ["Hash", mono(block.hash)],
    ["Parent", number > 0 ? blockHashLink(block.parentHash) : mono(block.parentHash)],
    ["Time", timeWithAge(block.timestamp)],
    [page.node.network ? "Proposer" : "Coinbase", addressLink(block.miner)],
    ["Transactions", String(block.transactions.length)],
    ["Gas used", gasUsage(block.gasUsed, block.gasLimit)],
    block.baseFeePerGas ? ["Base fee", formatGwei(block.baseFeePerGas)] : null,
    ["Size", `${formatInteger(toNumber(block.size))} bytes`],
    ["State root", mono(block.stateRoot)],
    ["Transactions root", mono(block.transactionsRoot)],
    ["Receipts root", mono(block.receiptsRoot)],
    ["Extra data", [dataBox(block.extraData), certified]],
  ]);
}

const MORE_FIELDS = [
  ["Mix hash (randao)", "mixHash"],
  ["Uncles hash", "sha3Uncles"],
  ["Difficulty", "difficulty"],
  ["Nonce", "nonce"],
  ["Withdrawals root", "withdrawalsRoot"],
  ["Blob gas used", "blobGasUsed"],
  ["Excess blob gas", "excessBlobGas"],
  ["Parent beacon root", "parentBeaconBlockRoot"],
  ["Requests hash", "requestsHash"],
  ["Logs bloom", "logsBloom"],
];

function moreHeaderFields(block) {
  const rows = MORE_FIELDS.filter(([, key]) => block[key] != null).map(([label, key]) => [
    label,
    key === "logsBloom" ? dataBox(block[key]) : mono(block[key]),
  ]);
  return el("details", null, el("summary", null, "More header fields"), fields(rows));
}

function transactionsTable(block, receipts) {
  const byHash = new Map(receipts.map((r) => [r.transactionHash, r]));
  const rows = block.transactions.map((t) => {
    const receipt = byHash.get(t.hash);
    return [
      String(toNumber(t.transactionIndex)),
      txLink(t.hash, { short: true }),
      addressLink(t.from, { short: true }),
      recipient(t),
      formatEther(t.value),
      receipt ? formatInteger(toBigInt(receipt.gasUsed)) : "—",
      statusBadge(receipt),
    ];
  });
  const columns = [num("#"), "Hash", "From", "To", num("Value"), num("Gas used"), "Status"];
  return table(columns, rows, { empty: "No transactions in this block." });
}
