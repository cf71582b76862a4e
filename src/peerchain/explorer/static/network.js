// Network nodes only (the peerchain_ methods): the network page (consensus state,
// validators of the current height, open governance proposals with their votes, peers,
// a peer graph and the evidence of double signing), the validator set of any height
// with what changed there, and the commit certificate of a block, against the set of
// its height.

import { batch, call, RpcError } from "./rpc.js";
import {
  addressLink,
  badge,
  blockLink,
  el,
  fields,
  mono,
  notice,
  num,
  panel,
  svg,
  table,
} from "./dom.js";
import {
  describeStep,
  formatInteger,
  formatPercent,
  formatTime,
  shortHex,
  toBigInt,
  toHex,
  toNumber,
} from "./format.js";

const REFRESH_MS = 2000;

const sameAddress = (a, b) => a.toLowerCase() === b.toLowerCase();

// --- Network page -----------------------------------------------------------------------

export async function renderNetwork(page) {
  const [state, validators, peers, head, evidence, proposals] = await batch([
    ["peerchain_consensusState"],
    ["peerchain_validators"],
    ["peerchain_peers"],
    ["eth_blockNumber"],
    ["peerchain_evidence"],
    ["peerchain_proposals"],
  ]);
  page.title("Network");
  const height = toNumber(head);
  const total = validators.reduce((sum, v) => sum + toBigInt(v.power), 0n);
  const validatorRows = validators.map((v, i) => [
    String(i),
    addressLink(v.address),
    formatInteger(toBigInt(v.power)),
    formatPercent(toBigInt(v.power), total),
    sameAddress(v.address, state.proposer) ? badge("proposer now", "info") : null,
  ]);
  const proposalRows = proposals.map((p) => [
    addressLink(p.address),
    p.action === "remove" ? badge("remove", "bad") : `power ${formatInteger(toBigInt(p.power))}`,
    `${formatInteger(toBigInt(p.tally))} of ${formatInteger(toBigInt(p.total))}`,
    el("span", null, ...p.voters.map((v) => addressLink(v))),
    `${toNumber(p.opened)} – ${toNumber(p.expires)}`,
  ]);
  const peerRows = peers.map((p) => [
    el("span", { class: "mono", title: p.id }, shortHex(p.id, 10, 6)),
    mono(peerHost(p.address) ?? "—"),
    p.direction ?? "—",
    el("span", { class: scoreClass(p) }, p.score.toFixed(1)),
    p.height == null ? "—" : heightText(toNumber(p.height), height),
    p.banned
      ? badge(`banned until ${formatTime(p.bannedUntil).slice(11)}`, "bad")
      : badge("connected", "ok"),
  ]);
  page.show(
    el("h1", null, "Network"),
    el(
      "div",
      { class: "columns" },
      panel("Consensus", consensusFields(state, validators)),
      panel(
        "Peer graph",
        peerGraph(peers, height),
        `${peers.filter((p) => !p.banned).length} connected`,
      ),
    ),
    panel(
      "Validators",
      table([num("#"), "Address", num("Power"), num("Share"), ""], validatorRows, {
        empty: "No validators.",
      }),
      [
        `height ${toNumber(state.height)}, total power ${formatInteger(total)} · `,
        el("a", { href: `#/validators/${toNumber(state.height)}` }, "by height"),
      ],
    ),
    panel(
      "Open proposals",
      table(["Address", "Change", num("Voted power"), "Voters", "Blocks"], proposalRows, {
        empty: "No open proposals.",
      }),
      "a change needs more than 2/3 of the power and takes effect two blocks later",
    ),
    panel(
      "Peers",
      table(["Node id", "Address", "Direction", num("Score"), num("Height"), "State"], peerRows, {
        empty: "No peers connected.",
      }),
    ),
    panel(
      "Evidence of double signing",
      table(
        [num("Height"), num("Round"), "Step", "Validator", "Signed both", num("Seen at")],
        evidence.map(evidenceRow),
        { empty: "No validator has signed twice." },
      ),
      evidence.length ? `${evidence.length} kept` : null,
    ),
  );
  page.every(REFRESH_MS, () => page.refresh());
}

/** One piece of evidence: where, who, and the two values signed. */
function evidenceRow(e) {
  const value = (m) => (m.blockHash ? mono(shortHex(m.blockHash, 10, 6)) : badge("nil", "info"));
  return [
    formatInteger(toNumber(e.height)),
    String(toNumber(e.round)),
    badge(e.step, "bad"),
    addressLink(e.validator),
    el("span", { title: e.id }, value(e.first), " and ", value(e.second)),
    formatInteger(toNumber(e.detectedAt)),
  ];
}

function consensusFields(state, validators) {
  const index = validators.findIndex((v) => sameAddress(v.address, state.proposer));
  const round = (r) => (r < 0 ? el("span", { class: "muted" }, "none") : String(r));
  return fields([
    ["Height", formatInteger(toNumber(state.height))],
    ["Round", String(toNumber(state.round))],
    ["Step", badge(describeStep(state.step), "info")],
    [
      "Proposer",
      [
        addressLink(state.proposer),
        index >= 0 ? el("span", { class: "muted" }, ` validator #${index}`) : null,
      ],
    ],
    ["Locked round", round(state.lockedRound)],
    ["Valid round", round(state.validRound)],
    ["Halted", state.halted ? badge(state.halted, "bad") : el("span", { class: "muted" }, "no")],
    [
      "Local fault",
      state.fault ? badge(state.fault.message, "bad") : el("span", { class: "muted" }, "none"),
    ],
    [
      "Syncing",
      state.syncing ? badge("catching up", "pending") : el("span", { class: "muted" }, "no"),
    ],
  ]);
}

/** "host:port" of a "peerchain://<id>@host:port" address. */
function peerHost(address) {
  if (!address) return null;
  const at = address.lastIndexOf("@");
  return at >= 0 ? address.slice(at + 1) : address;
}

function scoreClass(peer) {
  if (peer.banned || peer.score <= -50) return "score bad";
  return peer.score < 0 ? "score warn" : "score ok";
}

function heightText(peerHeight, ourHeight) {
  const lag = ourHeight - peerHeight;
  return lag > 1 ? `${formatInteger(peerHeight)} (${lag} behind)` : formatInteger(peerHeight);
}

// --- Peer graph -------------------------------------------------------------------------

const WIDTH = 560;
const HEIGHT = 330;

/** This node in the middle, its peers around it; edges say direction and ban state. */
function peerGraph(peers, height) {
  const cx = WIDTH / 2;
  const cy = HEIGHT / 2;
  const nodes = peers.map((peer, i) => {
    const angle = (2 * Math.PI * i) / Math.max(peers.length, 1) - Math.PI / 2;
    return { peer, x: cx + 200 * Math.cos(angle), y: cy + 115 * Math.sin(angle) };
  });
  const edge = ({ peer, x, y }) =>
    svg("line", {
      x1: cx,
      y1: cy,
      x2: x,
      y2: y,
      class: `edge ${peer.banned ? "banned" : (peer.direction ?? "")}`,
    });
  const vertex = ({ peer, x, y }) =>
    svg(
      "g",
      {
        class: `vertex ${scoreClass(peer)}`,
        transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
      },
      svg("title", null, `${peer.id}\n${peer.address ?? ""}\nscore ${peer.score}`),
      svg("circle", { r: 16 }),
      svg("text", { y: 32, class: "label" }, shortHex(peer.id, 8, 4)),
      svg(
        "text",
        { y: 46, class: "sub" },
        peer.banned
          ? "banned"
          : peer.height == null
            ? "height ?"
            : `height ${toNumber(peer.height)}`,
      ),
    );
  return el(
    "div",
    { class: "graph" },
    svg(
      "svg",
      {
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        role: "img",
        "aria-label": `this node and ${peers.length} peers`,
      },
      nodes.map(edge),
      nodes.map(vertex),
      svg(
        "g",
        { class: "vertex self", transform: `translate(${cx} ${cy})` },
        svg("circle", { r: 24 }),
        svg("text", { y: 4, class: "label" }, "this node"),
        svg("text", { y: 40, class: "sub" }, `${location.host} · height ${height}`),
      ),
    ),
    el(
      "p",
      { class: "legend muted" },
      el("span", { class: "key outbound" }, "outbound"),
      el("span", { class: "key inbound" }, "inbound"),
      el("span", { class: "key banned" }, "banned"),
    ),
  );
}

// --- Validator set of a height ----------------------------------------------------------

/** The set of height `id` (it signs block `id`), with what changed from the height
 * before: a change decided in block H takes effect at H + 2. */
export async function renderValidators(page, id) {
  if (!/^\d+$/.test(id)) return page.show(notice("Not a height", id));
  const height = Math.max(Number(id), 1);
  const [set, before, next] = await Promise.all([
    setOf(height),
    height > 1 ? setOf(height - 1) : null,
    setOf(height + 1),
  ]);
  page.title(`Validators of height ${height}`);
  const pager = el(
    "span",
    { class: "pager" },
    height > 1 ? el("a", { href: `#/validators/${height - 1}` }, "‹ previous") : null,
    next ? el("a", { href: `#/validators/${height + 1}` }, "next ›") : null,
  );
  if (!set) {
    page.show(
      el("h1", null, `Validators of height ${formatInteger(height)}`, pager),
      notice("Not known yet", `Block ${height - 2} decides this set; it is not committed yet.`),
    );
    return page.onHead(() => page.refresh());
  }
  const power = (list) => new Map(list.map((v) => [v.address.toLowerCase(), toBigInt(v.power)]));
  const now = power(set);
  const then = before ? power(before) : now;
  const total = [...now.values()].reduce((a, b) => a + b, 0n);
  const change = (address) => {
    if (!then.has(address)) return badge("added", "ok");
    const old = then.get(address);
    const current = now.get(address);
    if (current === undefined) return badge("removed", "bad");
    if (old === current) return null;
    return badge(`power ${formatInteger(old)} → ${formatInteger(current)}`, "info");
  };
  const everyone = [...now.keys(), ...[...then.keys()].filter((a) => !now.has(a))];
  const rows = everyone.map((address, i) => [
    now.has(address) ? String(i) : "—",
    addressLink(address),
    now.has(address) ? formatInteger(now.get(address)) : "—",
    now.has(address) ? formatPercent(now.get(address), total) : "—",
    change(address),
  ]);
  const changed = rows.some((row) => row[4] !== null);
  page.show(
    el("h1", null, `Validators of height ${formatInteger(height)}`, pager),
    panel(
      "Validator set",
      [
        fields([
          ["Signs", ["block ", blockLink(height, formatInteger(height))]],
          [
            "Changed here",
            changed
              ? [badge("yes", "info"), " decided in block ", blockLink(height - 2)]
              : el("span", { class: "muted" }, height > 1 ? "no" : "the genesis set"),
          ],
        ]),
        table([num("#"), "Address", num("Power"), num("Share"), "Change"], rows),
      ],
      `${now.size} validators, total power ${formatInteger(total)}`,
    ),
  );
}

/** The set of `height` ([{address, power}]), or null while the node cannot know it. */
async function setOf(height) {
  try {
    return await call("peerchain_validators", toHex(height));
  } catch (error) {
    if (error instanceof RpcError && error.code !== null) return null;
    throw error;
  }
}

// --- Commit certificate -----------------------------------------------------------------

/** The panel of a block's commit certificate: who signed, with how much power, and
 * whether the next block's extraData carries the certificate's hash. */
export async function commitPanel(block) {
  const number = toNumber(block.number);
  const [certificate, validators, next] = await batch([
    ["peerchain_getCommit", toHex(number)],
    ["peerchain_validators", toHex(Math.max(number, 1))],
    ["eth_getBlockByNumber", toHex(number + 1), false],
  ]);
  if (!certificate) {
    const why =
      number === 0
        ? "The genesis block is not voted on."
        : "This node has no certificate for this block.";
    return panel("Commit certificate", el("p", { class: "empty" }, why));
  }
  const signed = new Map(
    certificate.signatures.map((s) => [s.validator.toLowerCase(), s.signature]),
  );
  const power = new Map(validators.map((v) => [v.address.toLowerCase(), toBigInt(v.power)]));
  const total = [...power.values()].reduce((a, b) => a + b, 0n);
  const signedPower = [...signed.keys()].reduce((sum, a) => sum + (power.get(a) ?? 0n), 0n);
  const everyone = [...new Set([...power.keys(), ...signed.keys()])];
  const rows = everyone.map((address) => [
    addressLink(address),
    power.has(address) ? formatInteger(power.get(address)) : "—",
    signed.has(address) ? badge("signed", "ok") : badge("not included", "muted"),
    signed.has(address)
      ? el(
          "span",
          { class: "mono", title: signed.get(address) },
          shortHex(signed.get(address), 10, 8),
        )
      : null,
  ]);
  const quorum =
    `${signed.size} of ${power.size} validators, power ${formatInteger(signedPower)} of ` +
    `${formatInteger(total)} (${formatPercent(signedPower, total)}; more than 2/3 needed)`;
  return panel(
    "Commit certificate",
    [
      fields([
        ["Round", String(toNumber(certificate.round))],
        ["Signed by", quorum],
        [
          "Certificate hash",
          [mono(certificate.hash), " ", bindingBadge(certificate, number, next)],
        ],
      ]),
      table(["Validator", num("Power"), "Vote", "Signature"], rows),
    ],
    [
      `${signed.size} precommits · `,
      el("a", { href: `#/validators/${Math.max(number, 1)}` }, "validator set"),
    ],
  );
}

/** Whether block `number + 1` (`next`, null if not yet committed) carries the hash. */
function bindingBadge(certificate, number, next) {
  if (!next) return el("span", { class: "muted" }, `block ${number + 1} will carry it`);
  return next.extraData === certificate.hash
    ? badge(`matches block ${number + 1}'s extraData`, "ok")
    : badge(`differs from block ${number + 1}'s extraData`, "bad");
}
