// The explorer's entry point: finds out what node served it, follows the chain head,
// routes hash URLs (#/block/12, #/tx/0x…, #/address/0x…, #/network, #/validators/12,
// #/search/…) to pages and runs the search box.

import { batch, callOptional } from "./rpc.js";
import { LiveHead } from "./live.js";
import { notice } from "./dom.js";
import { classifyQuery, formatInteger, toNumber } from "./format.js";
import { renderHome } from "./home.js";
import { renderBlock } from "./block.js";
import { renderTransaction } from "./transaction.js";
import { renderAccount } from "./account.js";
import { renderNetwork, renderValidators } from "./network.js";

const ROUTES = [
  { path: /^$/, render: renderHome, nav: "home" },
  { path: /^block\/(\w+)$/, render: renderBlock },
  { path: /^tx\/(\w+)$/, render: renderTransaction },
  { path: /^address\/(\w+)$/, render: renderAccount },
  { path: /^network$/, render: renderNetwork, nav: "network", networkOnly: true },
  { path: /^validators\/(\w+)$/, render: renderValidators, nav: "network", networkOnly: true },
  { path: /^search\/(.*)$/, render: renderSearch },
];

/** A %-encoded part of the location, or null if it is not valid encoding. */
function decodeArgument(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** What a page renderer is given: where to draw and what it may subscribe to. Everything
 * a page subscribes to ends when the page is closed (navigation or refresh). */
class Page {
  constructor(app, route, args) {
    this.app = app;
    this.route = route;
    this.args = args;
    this.root = app.root;
    this.node = app.node;
    this.live = app.live;
    this.closed = false;
    this.cleanups = [];
  }

  /** Replace the page content (ignored once the page is closed). */
  show(...nodes) {
    if (!this.closed) this.root.replaceChildren(...nodes.flat().filter(Boolean));
  }

  title(text) {
    if (!this.closed) document.title = `${text} · PeerChain explorer`;
  }

  onHead(listener) {
    this.cleanups.push(this.live.onHead(listener));
  }

  every(ms, task) {
    const timer = setInterval(task, ms);
    this.cleanups.push(() => clearInterval(timer));
  }

  /** Render this page again with fresh data, keeping the old content until it is ready. */
  refresh() {
    if (!this.closed) this.app.open(this.route, this.args, { quiet: true });
  }

  /** Go to another page without leaving this one in the history (search results). */
  go(hash) {
    if (!this.closed) location.replace(hash);
  }

  close() {
    this.closed = true;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }
}

class App {
  constructor(root, node, live) {
    this.root = root;
    this.node = node;
    this.live = live;
    this.page = null;
  }

  route() {
    const path = location.hash.replace(/^#\/?/, "");
    for (const route of ROUTES) {
      const match = path.match(route.path);
      if (match && (!route.networkOnly || this.node.network)) {
        const args = match.slice(1).map(decodeArgument);
        if (!args.includes(null)) return this.open(route, args);
      }
    }
    this.open({ render: (page) => page.show(notice("No such page", `#${path}`)) }, []);
  }

  open(route, args, { quiet = false } = {}) {
    this.page?.close();
    const page = new Page(this, route, args);
    this.page = page;
    if (!quiet) {
      document.title = "PeerChain explorer";
      page.show(notice("Loading…"));
      window.scrollTo(0, 0);
      for (const link of document.querySelectorAll("nav a")) {
        link.classList.toggle("active", link.dataset.nav === route.nav);
      }
    }
    Promise.resolve(route.render(page, ...args)).catch((error) => {
      console.error(error);
      page.show(notice("Could not load this page", error.message, "error"));
    });
  }
}

/** Resolve a search box entry to its page (replacing the location) or say why not. */
async function renderSearch(page, text) {
  const query = classifyQuery(text);
  if (query?.kind === "block") return page.go(`#/block/${query.number}`);
  if (query?.kind === "address") return page.go(`#/address/${query.value}`);
  if (query?.kind === "hash") {
    const [tx, block] = await batch([
      ["eth_getTransactionByHash", query.value],
      ["eth_getBlockByHash", query.value, false],
    ]);
    if (tx) return page.go(`#/tx/${query.value}`);
    if (block) return page.go(`#/block/${query.value}`);
    return page.show(
      notice("Nothing found", `No transaction or block has the hash ${query.value}.`),
    );
  }
  page.show(
    notice(
      "Nothing to search for",
      "Enter a block number, a block or transaction hash (0x and 64 hex digits) " +
        "or an address (0x and 40 hex digits).",
    ),
  );
}

/** Chain id, client version, head and whether the peerchain_ methods exist. */
async function describeNode() {
  const [chainId, clientVersion, head] = await batch([
    ["eth_chainId"],
    ["web3_clientVersion"],
    ["eth_blockNumber"],
  ]);
  const state = await callOptional(null, "peerchain_consensusState");
  return {
    chainId: toNumber(chainId),
    clientVersion,
    head: toNumber(head),
    network: state !== null,
  };
}

function showStatus(status, number) {
  const pill = document.getElementById("status");
  pill.className = `status ${status}`;
  const text = { connecting: "connecting", live: "live", polling: "polling", offline: "offline" }[
    status
  ];
  pill.textContent = number == null ? text : `${text} · block ${formatInteger(number)}`;
  pill.title = {
    connecting: "Connecting to the node",
    live: "New blocks arrive over a WebSocket subscription",
    polling: "WebSocket unavailable: asking the node for new blocks every 2 seconds",
    offline: "The node does not answer",
  }[status];
}

async function main() {
  const root = document.getElementById("view");
  let node;
  try {
    node = await describeNode();
  } catch (error) {
    root.replaceChildren(notice("Cannot reach the node", error.message, "error"));
    return;
  }
  document.getElementById("network-link").hidden = !node.network;
  const kind = node.network ? "network node" : "dev node";
  document.getElementById("node-info").textContent =
    `chain ${node.chainId} · ${node.clientVersion} · ${kind}`;
  const live = new LiveHead();
  live.onStatus((status) => showStatus(status, live.number));
  live.onHead(() => showStatus(live.status, live.number));
  live.start(node.head);
  const app = new App(root, node, live);
  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = event.target.elements.q;
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    input.blur();
    location.hash = `#/search/${encodeURIComponent(text)}`;
  });
  window.addEventListener("hashchange", () => app.route());
  app.route();
}

main();
