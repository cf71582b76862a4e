// Pieces of the chain pages shared by several of them: fetching blocks, ordering, and
// small views of transactions and receipts.

import { batch } from "./rpc.js";
import { addressLink, age, badge, el } from "./dom.js";
import { formatInteger, formatPercent, formatTime, toBigInt, toHex, toNumber } from "./format.js";

/** Blocks `from`, `from - 1`, … (at most `count`, not below 0), with full transactions. */
export async function fetchBlocks(from, count) {
  const numbers = [];
  for (let n = from; n > from - count && n >= 0; n -= 1) numbers.push(n);
  const blocks = await batch(numbers.map((n) => ["eth_getBlockByNumber", toHex(n), true]));
  return blocks.filter(Boolean);
}

/** Sort order of transactions or logs: newest block first, then last in the block first. */
export const newestFirst = (a, b) =>
  toNumber(b.blockNumber) - toNumber(a.blockNumber) ||
  toNumber(b.transactionIndex ?? b.logIndex) - toNumber(a.transactionIndex ?? a.logIndex);

/** `items` without repeats of `key(item)`, first one kept. */
export function unique(items, key) {
  const seen = new Set();
  return items.filter((item) => !seen.has(key(item)) && seen.add(key(item)));
}

/** The `to` of a transaction, short, or "contract creation". */
export const recipient = (tx) =>
  tx.to ? addressLink(tx.to, { short: true }) : el("span", { class: "muted" }, "contract creation");

export function statusBadge(receipt) {
  if (!receipt) return badge("pending", "pending");
  return toNumber(receipt.status) === 1 ? badge("success", "ok") : badge("failed", "bad");
}

/** "51,150 of 30,000,000 (0.2 %)". */
export function gasUsage(used, limit) {
  const [u, l] = [toBigInt(used), toBigInt(limit)];
  return `${formatInteger(u)} of ${formatInteger(l)} (${formatPercent(u, l)})`;
}

/** "2025-06-15 14:03:12 UTC (5 s ago)" for a hex timestamp. */
export function timeWithAge(timestamp) {
  const seconds = toNumber(timestamp);
  return [formatTime(seconds), " (", age(seconds), ")"];
}

export const blocksAgo = (n) =>
  n === 0 ? "the latest block" : n === 1 ? "1 block ago" : `${formatInteger(n)} blocks ago`;
