// JSON-RPC over HTTP to the node that served this page (same origin, POST /).

const METHOD_NOT_FOUND = -32601;

/** An error answer (`code` from JSON-RPC) or a failed request (`code` null). */
export class RpcError extends Error {
  constructor(code, message, data = undefined) {
    super(message);
    this.name = "RpcError";
    this.code = code;
    this.data = data;
  }
}

/** True for the "method not found" answer a dev node gives to peerchain_ methods. */
const isMethodNotFound = (error) => error instanceof RpcError && error.code === METHOD_NOT_FOUND;

let nextId = 1;

async function post(body) {
  let response;
  try {
    response = await fetch("/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new RpcError(null, `node unreachable (${error.message})`);
  }
  if (!response.ok) throw new RpcError(null, `node answered HTTP ${response.status}`);
  return response.json();
}

function resultOf(answer) {
  if (answer == null) throw new RpcError(null, "no answer for a call in the batch");
  if (answer.error) throw new RpcError(answer.error.code, answer.error.message, answer.error.data);
  return answer.result;
}

/** The result of one call; throws RpcError. */
export async function call(method, ...params) {
  return resultOf(await post({ jsonrpc: "2.0", id: nextId++, method, params }));
}

/** The results of `[[method, ...params], …]` sent as one batch, in order; throws the
 * RpcError of the first call that failed. */
export async function batch(calls) {
  if (calls.length === 0) return [];
  const first = nextId;
  nextId += calls.length;
  const requests = calls.map(([method, ...params], i) => ({
    jsonrpc: "2.0",
    id: first + i,
    method,
    params,
  }));
  const answers = await post(requests);
  const byId = new Map((Array.isArray(answers) ? answers : [answers]).map((a) => [a.id, a]));
  return requests.map((request) => resultOf(byId.get(request.id)));
}

/** The result of one call, or `fallback` when the node does not have the method. */
export async function callOptional(fallback, method, ...params) {
  try {
    return await call(method, ...params);
  } catch (error) {
    if (isMethodNotFound(error)) return fallback;
    throw error;
  }
}
