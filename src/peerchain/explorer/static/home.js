// The home page: the chain at a glance and the latest blocks and transactions, updated
// as blocks arrive.

import { batch, call } from "./rpc.js";
import { addressLink, age, blockLink, el, num, panel, refreshAges, table, txLink } from "./dom.js";
import {
  describeStep,
  formatEther,
  formatGwei,
  formatInteger,
  toBigInt,
  toNumber,
} from "./format.js";
import { fetchBlocks, newestFirst, recipient, unique } from "./views.js";

const LATEST = 10; // rows in each list
const TX_SCAN = 100; // blocks to look back for the latest transactions
const SCAN_BATCH = 25;

export async function renderHome(page) {
  const head = page.live.number ?? toNumber(await call("eth_blockNumber"));
  let blocks = await fetchBlocks(head, LATEST);
  let txs = blocks.flatMap((b) => b.transactions);
  for (let next = head - LATEST; txs.length < LATEST && head - next < TX_SCAN; next -= SCAN_BATCH) {
    if (next < 0) break;
    txs.push(...(await fetchBlocks(next, SCAN_BATCH)).flatMap((b) => b.transactions));
  }
  txs = txs.sort(newestFirst).slice(0, LATEST);
  let stats = await fetchStats(page);
  const draw = (fresh = new Set()) => page.show(homeView(page, blocks, txs, stats, fresh));
  draw();
  page.onHead(async (header) => {
    const [block, newStats] = await Promise.all([
      call("eth_getBlockByNumber", header.number, true),
      fetchStats(page),
    ]);
    if (!block) return;
    blocks = unique([block, ...blocks], (b) => b.hash)
      .sort((a, b) => toNumber(b.number) - toNumber(a.number))
      .slice(0, LATEST);
    txs = unique([...block.transactions, ...txs], (t) => t.hash)
      .sort(newestFirst)
      .slice(0, LATEST);
    stats = newStats;
    draw(new Set([block.hash, ...block.transactions.map((t) => t.hash)]));
  });
  page.every(5000, () => refreshAges(page.root));
}

async function fetchStats(page) {
  const calls = [["eth_gasPrice"], ["net_peerCount"]];
  if (page.node.network) calls.push(["peerchain_consensusState"]);
  const [gasPrice, peers, consensus] = await batch(calls);
  return { gasPrice, peers: toNumber(peers), consensus };
}

const stat = (label, value, detail = null) =>
  el(
    "div",
    { class: "stat" },
    el("div", { class: "stat-label" }, label),
    el("div", { class: "stat-value" }, value),
    detail ? el("div", { class: "stat-detail" }, detail) : null,
  );

function statsView(page, latest, stats) {
  const consensus = stats.consensus;
  return el(
    "div",
    { class: "stats" },
    stat(
      "Latest block",
      latest ? blockLink(toNumber(latest.number)) : "—",
      latest ? age(toNumber(latest.timestamp)) : null,
    ),
    stat("Chain id", String(page.node.chainId)),
    stat("Gas price", formatGwei(stats.gasPrice)),
    stat("Peers", String(stats.peers)),
    consensus
      ? stat(
          "Consensus",
          `height ${formatInteger(toNumber(consensus.height))}`,
          `round ${toNumber(consensus.round)} · ${describeStep(consensus.step)}`,
        )
      : stat("Mode", "dev node", "blocks on demand"),
  );
}

function homeView(page, blocks, txs, stats, fresh) {
  const isFresh = (items) => (i) => (fresh.has(items[i].hash) ? "fresh" : null);
  const blockRows = blocks.map((b) => [
    blockLink(toNumber(b.number)),
    age(toNumber(b.timestamp)),
    String(b.transactions.length),
    formatInteger(toBigInt(b.gasUsed)),
    addressLink(b.miner, { short: true }),
  ]);
  const txRows = txs.map((t) => [
    txLink(t.hash, { short: true }),
    addressLink(t.from, { short: true }),
    recipient(t),
    formatEther(t.value),
    blockLink(toNumber(t.blockNumber)),
  ]);
  const blockColumns = ["Block", "Age", num("Txs"), num("Gas used")];
  blockColumns.push(page.node.network ? "Proposer" : "Coinbase");
  return [
    statsView(page, blocks[0], stats),
    el(
      "div",
      { class: "columns" },
      panel("Latest blocks", table(blockColumns, blockRows, { rowClass: isFresh(blocks) })),
      panel(
        "Latest transactions",
        table(["Hash", "From", "To", num("Value"), "Block"], txRows, {
          rowClass: isFresh(txs),
          empty: `No transactions in the last ${TX_SCAN} blocks.`,
        }),
      ),
    ),
  ];
}
