// Compile Solidity standard JSON (stdin) with solc-js's soljson, printing the output JSON.
//
// solc-js's wrapper passes the input through cwrap, which copies strings onto the wasm
// stack; OpenZeppelin's ~470 sources overflow it ("memory access out of bounds").
// Here the input goes on the heap through solidity_alloc instead.
'use strict';

const soljson = require(process.argv[2]);
const chunks = [];
process.stdin.on('data', chunk => chunks.push(chunk));
process.stdin.on('end', () => {
  const input = Buffer.concat(chunks).toString('utf8');
  const alloc = soljson.cwrap('solidity_alloc', 'number', ['number']);
  const compile = soljson.cwrap('solidity_compile', 'number', ['number', 'number', 'number']);
  const reset = soljson.cwrap('solidity_reset', null, []);
  const size = soljson.lengthBytesUTF8(input) + 1;
  const pointer = alloc(size);
  soljson.stringToUTF8(input, pointer, size);
  const output = soljson.UTF8ToString(compile(pointer, 0, 0));
  reset();
  process.stdout.write(output);
});
