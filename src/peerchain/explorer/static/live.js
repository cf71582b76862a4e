// The live chain head: eth_subscribe("newHeads") on a WebSocket to this node; while the
// socket is down (refused, node restarting) eth_blockNumber is polled over HTTP instead.
// Listeners get every new head once, in order, with gaps filled (at most MAX_GAP heads).

import { batch, call } from "./rpc.js";
import { toHex, toNumber } from "./format.js";

const POLL_MS = 2000;
const RETRY_MS = [1000, 2000, 5000, 10000, 30000];
const MAX_GAP = 10;

/** Status: "connecting" | "live" (WebSocket) | "polling" (HTTP) | "offline". */
export class LiveHead {
  constructor() {
    this.heads = new Set();
    this.statuses = new Set();
    this.status = "connecting";
    this.number = null;
    this.socket = null;
    this.retries = 0;
    this.pollTimer = null;
    this.queue = Promise.resolve();
  }

  /** Call `listener(header)` for each new head; returns a function that stops it. */
  onHead(listener) {
    this.heads.add(listener);
    return () => this.heads.delete(listener);
  }

  /** Call `listener(status)` now and on every change; returns a function that stops it. */
  onStatus(listener) {
    this.statuses.add(listener);
    listener(this.status);
    return () => this.statuses.delete(listener);
  }

  /** Start following the head from block `number`. */
  start(number) {
    this.number = number;
    this.connect();
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    for (const listener of this.statuses) listener(status);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    let socket;
    try {
      socket = new WebSocket(`${scheme}://${location.host}/`);
    } catch {
      return this.disconnected(false); // refused before connecting (e.g. by policy)
    }
    let subscribed = false;
    this.socket = socket;
    socket.addEventListener("open", () => {
      const request = { jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] };
      socket.send(JSON.stringify(request));
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.id === 1) {
        if (message.error) return socket.close();
        subscribed = true;
        this.retries = 0;
        this.stopPolling();
        this.setStatus("live");
        this.catchUp(); // heads committed while the socket was down
      } else if (message.method === "eth_subscription") {
        this.enqueue(() => this.deliver(message.params.result));
      }
    });
    socket.addEventListener("close", () => {
      this.socket = null;
      this.disconnected(subscribed);
    });
  }

  /** Poll until a new socket is subscribed; back off while sockets keep failing. */
  disconnected(wasSubscribed) {
    if (!wasSubscribed) this.retries += 1;
    this.startPolling();
    const delay = RETRY_MS[Math.min(this.retries, RETRY_MS.length - 1)];
    setTimeout(() => this.connect(), delay);
  }

  startPolling() {
    if (this.pollTimer !== null) return;
    this.setStatus("polling");
    this.pollTimer = setInterval(() => this.catchUp(), POLL_MS);
    this.catchUp();
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  /** Ask the node for its head and deliver what is missing. */
  catchUp() {
    this.enqueue(async () => {
      try {
        const head = toNumber(await call("eth_blockNumber"));
        if (this.socket === null) this.setStatus("polling");
        if (this.number === null || head > this.number) await this.fill(head);
      } catch {
        if (this.socket === null) this.setStatus("offline");
      }
    });
  }

  /** Deliver the heads after the last delivered one, up to and including `head`. */
  async fill(head) {
    const from = Math.max(this.number === null ? head : this.number + 1, head - MAX_GAP + 1);
    const numbers = [];
    for (let n = from; n <= head; n += 1) numbers.push(n);
    const blocks = await batch(numbers.map((n) => ["eth_getBlockByNumber", toHex(n), false]));
    for (const block of blocks) if (block) this.emit(block);
  }

  async deliver(header) {
    const number = toNumber(header.number);
    if (this.number !== null && number > this.number + 1) await this.fill(number - 1);
    this.emit(header);
  }

  emit(header) {
    const number = toNumber(header.number);
    if (this.number !== null && number <= this.number) return;
    this.number = number;
    for (const listener of this.heads) listener(header);
  }

  enqueue(task) {
    this.queue = this.queue.then(task).catch((error) => console.error("live head:", error));
  }
}
