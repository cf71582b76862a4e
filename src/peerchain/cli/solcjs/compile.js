// Runs solc-js on a standard-JSON input read from stdin; writes solc's standard-JSON output.
// Usage: node compile.js <directory of the npm "solc" package>
//
// solc-js's own compile() passes the input through Emscripten's cwrap as a string, which
// is copied onto the wasm stack: inputs of a few megabytes (hundreds of sources) overflow
// it and fail with "memory access out of bounds". Here the input is copied to the heap
// with solidity_alloc and solidity_compile receives a pointer instead.
"use strict";
const path = require("path");

const soljson = require(path.resolve(process.argv[2], "soljson.js"));
const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const input = Buffer.concat(chunks).toString("utf8");
  const alloc = soljson.cwrap("solidity_alloc", "number", ["number"]);
  const compile = soljson.cwrap("solidity_compile", "number", ["number", "number", "number"]);
  const reset = soljson.cwrap("solidity_reset", null, []);
  const size = soljson.lengthBytesUTF8(input) + 1;
  const pointer = alloc(size);
  soljson.stringToUTF8(input, pointer, size);
  const output = soljson.UTF8ToString(compile(pointer, 0, 0));
  reset();
  process.stdout.write(output);
});
