// Chain values as text: quantities, amounts, times, hashes, search input, known events.
// Pure functions, no DOM; JSON-RPC quantities arrive as "0x" hex strings.

export const isAddress = (text) => /^0x[0-9a-fA-F]{40}$/.test(text);
export const isHash = (text) => /^0x[0-9a-fA-F]{64}$/.test(text);

/** A hex quantity as a BigInt (null stays null). */
export function toBigInt(hex) {
  return hex == null ? null : BigInt(hex);
}

/** A hex quantity small enough for a JS number (block numbers, gas, indexes). */
export function toNumber(hex) {
  return hex == null ? null : Number(BigInt(hex));
}

export const toHex = (number) => "0x" + BigInt(number).toString(16);

/** 1234567 -> "1,234,567" (numbers or BigInts). */
export function formatInteger(value) {
  return value.toLocaleString("en-US");
}

/** An integer amount with `decimals` as a decimal string, at most `maxFraction` digits
 * after the point, trailing zeros dropped; tiny non-zero amounts show as "<0.00…1". */
export function formatUnits(value, decimals, maxFraction = 6) {
  const negative = value < 0n;
  const magnitude = negative ? -value : value;
  const base = 10n ** BigInt(decimals);
  const whole = formatInteger(magnitude / base);
  const fraction = (magnitude % base)
    .toString()
    .padStart(decimals, "0")
    .slice(0, maxFraction)
    .replace(/0+$/, "");
  let text = fraction ? `${whole}.${fraction}` : whole;
  if (text === "0" && magnitude > 0n) text = `<0.${"0".repeat(maxFraction - 1)}1`;
  return (negative ? "-" : "") + text;
}

export const formatEther = (wei) => `${formatUnits(toBigInt(wei), 18)} ETH`;
export const formatGwei = (wei) => `${formatUnits(toBigInt(wei), 9, 4)} gwei`;

/** "0x1234…cdef" for long hex; short text is returned whole. */
export function shortHex(hex, head = 6, tail = 4) {
  if (hex.length <= head + tail + 3) return hex;
  return `${hex.slice(0, head)}…${hex.slice(-tail)}`;
}

/** Unix seconds as "2025-06-15 14:03:12 UTC". */
export function formatTime(seconds) {
  return new Date(Number(seconds) * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

/** How long ago `seconds` (unix time) was: "just now", "12 s ago", "5 min ago", "3 h ago". */
export function formatAge(seconds, now = Date.now() / 1000) {
  const age = Math.max(0, Math.floor(now - Number(seconds)));
  if (age < 2) return "just now";
  if (age < 60) return `${age} s ago`;
  if (age < 3600) return `${Math.floor(age / 60)} min ago`;
  if (age < 86400) return `${Math.floor(age / 3600)} h ago`;
  return `${Math.floor(age / 86400)} d ago`;
}

/** part / whole as "12.5 %" (whole may be 0). */
export function formatPercent(part, whole) {
  if (!whole) return "0 %";
  return `${((Number(part) / Number(whole)) * 100).toFixed(1).replace(/\.0$/, "")} %`;
}

/** Bytes in a "0x…" data string. */
export const byteLength = (data) => (data.length - 2) / 2;

const TX_TYPES = ["legacy", "access list", "dynamic fee", "blob", "set code"];

/** "dynamic fee (type 2)". */
export function describeTxType(hex) {
  const type = toNumber(hex);
  const name = TX_TYPES[type];
  return name ? `${name} (type ${type})` : `type ${type}`;
}

/** A consensus step name for reading: "new_height" -> "new height". */
export const describeStep = (step) => step.replaceAll("_", " ");

/** What a search box entry names: {kind: "block", number} | {kind: "address", value} |
 * {kind: "hash", value} (a transaction or block hash) | null. */
export function classifyQuery(text) {
  const query = text.trim().replace(/^#/, "").replaceAll(",", "");
  if (/^\d{1,15}$/.test(query)) return { kind: "block", number: Number(query) };
  const hex = query.startsWith("0x") || query.startsWith("0X") ? query.slice(2) : query;
  if (!/^[0-9a-fA-F]+$/.test(hex)) return null;
  if (hex.length === 40) return { kind: "address", value: "0x" + hex.toLowerCase() };
  if (hex.length === 64) return { kind: "hash", value: "0x" + hex.toLowerCase() };
  return null;
}

// --- ABI words ------------------------------------------------------------------------

/** The address in the low 20 bytes of a 32-byte word. */
const wordToAddress = (word) => "0x" + word.slice(-40).toLowerCase();

/** The 32-byte words of "0x…" data. */
function words(data) {
  const hex = data.slice(2);
  const out = [];
  for (let i = 0; i + 64 <= hex.length; i += 64) out.push("0x" + hex.slice(i, i + 64));
  return out;
}

/** The ABI-encoded `string` returned by a call, or null if the data is not one. */
export function decodeAbiString(data) {
  const hex = data.slice(2);
  if (hex.length < 128) return null;
  const offset = Number(BigInt("0x" + hex.slice(0, 64))) * 2;
  if (offset + 64 > hex.length) return null;
  const length = Number(BigInt("0x" + hex.slice(offset, offset + 64))) * 2;
  const body = hex.slice(offset + 64, offset + 64 + length);
  if (body.length !== length) return null;
  const bytes = new Uint8Array(body.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

// --- Well-known events and methods ----------------------------------------------------

/** Topic hashes (keccak256 of the signature) of the events the explorer names: the token
 * events (with their arguments decoded), then those of the example dApps in examples/. */
export const KNOWN_EVENTS = {
  "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef":
    "Transfer(address,address,uint256)",
  "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925":
    "Approval(address,address,uint256)",
  "0x2da466a7b24304f47e87fa2e1e5a81b9831ce54fec19055ce277ca2f39ba42c4":
    "Deposited(address,uint256)",
  "0x29ccdd939b9606074c9926265c082927dd20ab9c540a815225397e3718eb2637":
    "Proposed(uint256,address,address,uint256,string,uint256)",
  "0x7c2de587c00d75474a0c6c6fa96fd3b45dc974cd4e8a75f712bb84c950dce1b5":
    "Voted(uint256,address,bool,uint256)",
  "0x12c8907d32b752d626a36cf18f31719e25f1a3b6f750ee948c22c036373d48aa":
    "Executed(uint256,address,uint256)",
  "0xdd6b33101c067cc9c2d639fc44ead2f46e100522fca5c21545555409730b067e":
    "Opened(uint256,address,address,address,uint256,uint64)",
  "0x7ca5472b7ea78c2c0141c5a12ee6d170cf4ce8ed06be3d22c8252ddfc7a6a2c4":
    "Refunded(uint256,address,uint256)",
  "0x3bfce8de0db7450cc169b94323c210e69a36c6a4a58c9f5d96bec4973adce392":
    "Released(uint256,address,uint256)",
  "0x2c394f5b77240ae5b0c3f2c332e207154e0837283c4165cde2b2ff644f470066":
    "Registered(bytes32,address,string,uint256)",
  "0xf06e4bdc7e65c30636cab2018fac0ee687906716c8075894214868fc061a879e":
    "MirrorAdded(bytes32,address,string)",
  "0x1829635607d3ef49d0c0cd5724e1e5429bfd243b68be775748807ad72a610864":
    "MirrorRemoved(bytes32,string)",
  "0x06e9c07310f63759634ddbb7257dbb19ca404f90bd6bdef1d3386fab033cebce":
    "OwnerChanged(bytes32,address,address)",
};

/** Selectors (first 4 bytes of keccak256 of the signature) of common token methods. */
export const KNOWN_METHODS = {
  "0xa9059cbb": "transfer(address,uint256)",
  "0x095ea7b3": "approve(address,uint256)",
  "0x23b872dd": "transferFrom(address,address,uint256)",
};

/** A known log as {name, args: [[name, value, kind]]} with kind "address" or "uint": the
 * arguments of Transfer and Approval (token amounts or NFT ids), none for the other known
 * events; null for an unknown log or a token event of another shape. */
export function decodeKnownEvent(log) {
  const signature = KNOWN_EVENTS[log.topics[0]];
  if (!signature) return null;
  const name = signature.slice(0, signature.indexOf("("));
  if (name !== "Transfer" && name !== "Approval") return { name, args: [] };
  const [first, second] = name === "Transfer" ? ["from", "to"] : ["owner", "spender"];
  const data = words(log.data);
  if (log.topics.length === 3 && data.length === 1 && byteLength(log.data) === 32) {
    return {
      name,
      args: [
        [first, wordToAddress(log.topics[1]), "address"],
        [second, wordToAddress(log.topics[2]), "address"],
        ["value", BigInt(data[0]), "uint"],
      ],
    };
  }
  if (log.topics.length === 4 && byteLength(log.data) === 0) {
    return {
      name,
      args: [
        [first, wordToAddress(log.topics[1]), "address"],
        [second, wordToAddress(log.topics[2]), "address"],
        ["tokenId", BigInt(log.topics[3]), "uint"],
      ],
    };
  }
  return null;
}

/** The named method of call data, or its 4-byte selector, or null for plain transfers. */
export function describeInput(input) {
  if (input === "0x") return null;
  const selector = input.slice(0, 10);
  return KNOWN_METHODS[selector] ?? (input.length >= 10 ? `selector ${selector}` : null);
}
