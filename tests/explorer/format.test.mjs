// Unit tests of the explorer's pure formatting module, run by test_static.py with
// `node --test` next to a copy of the static files.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  classifyQuery,
  decodeAbiString,
  decodeKnownEvent,
  describeInput,
  describeTxType,
  formatAge,
  formatEther,
  formatPercent,
  formatUnits,
  shortHex,
  toNumber,
} from "./format.js";

const word = (hex) => hex.padStart(64, "0");

test("amounts keep their precision and group thousands", () => {
  assert.equal(formatUnits(1500000000000000000n, 18), "1.5");
  assert.equal(formatUnits(123456789n * 10n ** 18n, 18), "123,456,789");
  assert.equal(formatUnits(1n, 18), "<0.000001");
  assert.equal(formatUnits(1n, 18, 18), "0.000000000000000001");
  assert.equal(formatUnits(0n, 18), "0");
  assert.equal(formatUnits(-25n, 1), "-2.5");
  assert.equal(formatEther("0x14d1120d7b160000"), "1.5 ETH");
  assert.equal(formatEther("0x0"), "0 ETH");
});

test("quantities, percentages, hashes and ages", () => {
  assert.equal(toNumber("0x1f"), 31);
  assert.equal(toNumber(null), null);
  assert.equal(formatPercent(21000n, 30000000n), "0.1 %");
  assert.equal(formatPercent(1, 0), "0 %");
  assert.equal(shortHex("0x" + "ab".repeat(32)), "0xabab…abab");
  assert.equal(shortHex("0x1234"), "0x1234");
  assert.equal(formatAge(100, 100.5), "just now");
  assert.equal(formatAge(100, 145), "45 s ago");
  assert.equal(formatAge(0, 7200), "2 h ago");
  assert.equal(describeTxType("0x2"), "dynamic fee (type 2)");
  assert.equal(describeTxType("0x9"), "type 9");
});

test("search input names a block, an address or a hash", () => {
  assert.deepEqual(classifyQuery(" 1,204 "), { kind: "block", number: 1204 });
  assert.deepEqual(classifyQuery("#12"), { kind: "block", number: 12 });
  const address = "0x" + "Ab".repeat(20);
  assert.deepEqual(classifyQuery(address), { kind: "address", value: address.toLowerCase() });
  assert.deepEqual(classifyQuery("cd".repeat(32)), { kind: "hash", value: "0x" + "cd".repeat(32) });
  for (const junk of ["", "0x", "0x123", "hello", "0x" + "g".repeat(40), "1".repeat(40) + "x"]) {
    assert.equal(classifyQuery(junk), null, junk);
  }
});

test("Transfer and Approval logs are decoded, other logs are not", () => {
  const from = "0x" + "11".repeat(20);
  const to = "0x" + "22".repeat(20);
  const transfer = {
    topics: [
      "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
      "0x" + word(from.slice(2)),
      "0x" + word(to.slice(2)),
    ],
    data: "0x" + word("19"),
  };
  assert.deepEqual(decodeKnownEvent(transfer), {
    name: "Transfer",
    args: [
      ["from", from, "address"],
      ["to", to, "address"],
      ["value", 25n, "uint"],
    ],
  });
  const nft = { topics: [...transfer.topics, "0x" + word("7")], data: "0x" };
  assert.deepEqual(decodeKnownEvent(nft).args[2], ["tokenId", 7n, "uint"]);
  assert.equal(decodeKnownEvent({ ...transfer, data: "0x" }), null);
  assert.equal(decodeKnownEvent({ topics: ["0x" + word("1")], data: "0x" }), null);
  assert.equal(decodeKnownEvent({ topics: [], data: "0x" }), null);
  // The example dApps' events are named, their arguments left as they are: a Released
  // log has a Transfer's shape (two indexed words and one data word) but is not one.
  const released = {
    topics: ["0x3bfce8de0db7450cc169b94323c210e69a36c6a4a58c9f5d96bec4973adce392", ...transfer.topics.slice(1)],
    data: transfer.data,
  };
  assert.deepEqual(decodeKnownEvent(released), { name: "Released", args: [] });
});

test("ABI strings decode and garbage does not", () => {
  const encoded = "0x" + word("20") + word("4") + "50656572".padEnd(64, "0");
  assert.equal(decodeAbiString(encoded), "Peer");
  assert.equal(decodeAbiString("0x" + word("20")), null);
  assert.equal(decodeAbiString("0x" + word("20") + word("ff")), null);
  assert.equal(decodeAbiString("0x" + word("20") + word("1") + "ff".padEnd(64, "0")), null);
});

test("call data names its method", () => {
  assert.equal(describeInput("0x"), null);
  assert.equal(describeInput("0xa9059cbb" + word("1")), "transfer(address,uint256)");
  assert.equal(describeInput("0x12345678"), "selector 0x12345678");
  assert.equal(describeInput("0x1234"), null);
});
