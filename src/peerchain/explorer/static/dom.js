// Building the page. Everything from the chain enters the DOM as text nodes or as
// attributes set one by one: no HTML strings are ever parsed.

import { formatAge, formatTime, isAddress, isHash, shortHex } from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function setAttributes(node, attributes) {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value == null || value === false) continue;
    if (name.toLowerCase().startsWith("on")) throw new Error(`no event attributes: ${name}`);
    if (name === "class") node.setAttribute("class", value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

/** An HTML element: `el("td", {class: "mono"}, "text", childNode, [more])`. */
export function el(tag, attributes = null, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attributes);
  return append(node, children);
}

/** An SVG element, the same way. */
export function svg(tag, attributes = null, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attributes);
  return append(node, children);
}

// --- Links to explorer pages (only for values of the right shape) -----------------------

function hexLink(href, value, short, title = value) {
  return el("a", { href, class: "mono", title }, short ? shortHex(value) : value);
}

/** A link to a block page by number (a JS number). */
export function blockLink(number, text = String(number)) {
  return Number.isSafeInteger(number) && number >= 0
    ? el("a", { href: `#/block/${number}` }, text)
    : el("span", null, text);
}

export function blockHashLink(hash, { short = false } = {}) {
  return isHash(hash) ? hexLink(`#/block/${hash}`, hash, short) : mono(hash);
}

export function txLink(hash, { short = false } = {}) {
  return isHash(hash) ? hexLink(`#/tx/${hash}`, hash, short) : mono(hash);
}

/** A link to an account page; `label` replaces the address text (the title keeps it). */
export function addressLink(address, { short = false, label = null } = {}) {
  if (!isAddress(address)) return mono(address ?? "—");
  const link = hexLink(`#/address/${address.toLowerCase()}`, address, short);
  if (label) link.textContent = label;
  return link;
}

// --- Pieces -----------------------------------------------------------------------------

export const mono = (text) => el("span", { class: "mono" }, text);

/** Hex data in a scrollable box (long call data, log data, extra data). */
export const dataBox = (data) =>
  data === "0x" ? el("span", { class: "muted" }, "empty") : el("div", { class: "data mono" }, data);

/** A timestamp (unix seconds) as its age, with the UTC time as the tooltip; a zero
 * timestamp (a genesis without one) as a dash. */
export function age(seconds) {
  if (Number(seconds) === 0) return el("span", { class: "muted", title: formatTime(0) }, "—");
  return el(
    "span",
    { class: "age", title: formatTime(seconds), "data-time": seconds },
    formatAge(seconds),
  );
}

/** Refresh the text of every `age()` under `root`. */
export function refreshAges(root) {
  for (const node of root.querySelectorAll(".age[data-time]")) {
    node.textContent = formatAge(node.getAttribute("data-time"));
  }
}

export const badge = (text, kind) => el("span", { class: `badge ${kind}` }, text);

/** A titled panel around `children`; `aside` goes at the right of the title. */
export function panel(title, children, aside = null) {
  return el(
    "section",
    { class: "panel" },
    el("h2", null, title, aside ? el("span", { class: "aside" }, aside) : null),
    children,
  );
}

/** Label / value rows; rows that are null are skipped. */
export function fields(rows) {
  return el(
    "dl",
    { class: "fields" },
    rows.filter(Boolean).map(([label, value]) => [el("dt", null, label), el("dd", null, value)]),
  );
}

/** A right-aligned (numeric) table column. */
export const num = (title) => ({ title, numeric: true });

/** A table: `columns` are header texts or `num(text)`, `rows` arrays of cells; `empty` is
 * shown when there are no rows, `rowClass(i)` names a class for row i. */
export function table(columns, rows, { empty = "Nothing yet.", rowClass = () => null } = {}) {
  if (rows.length === 0) return el("p", { class: "empty" }, empty);
  const numeric = columns.map((c) => c.numeric === true);
  const cell = (tag, i, value) => el(tag, numeric[i] ? { class: "num" } : null, value);
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      null,
      el(
        "thead",
        null,
        el(
          "tr",
          null,
          columns.map((c, i) => cell("th", i, c.title ?? c)),
        ),
      ),
      el(
        "tbody",
        null,
        rows.map((row, r) =>
          el(
            "tr",
            { class: rowClass(r) },
            row.map((v, i) => cell("td", i, v)),
          ),
        ),
      ),
    ),
  );
}

/** A message in place of a page (not found, node unreachable). */
export function notice(title, detail = null, kind = "info") {
  return el(
    "div",
    { class: `notice ${kind}` },
    el("h2", null, title),
    detail ? el("p", null, detail) : null,
  );
}
