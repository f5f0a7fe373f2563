// Load generator of bench.feed: COUNT socket.io browsers (the site's own client library, websocket transport
// only) on one Node process. Prints "ready" once every client got its welcome, then records each crawled_repo
// event's latency (arrival minus crawledAt); on "stop" (a line on stdin) prints one JSON line and exits.
"use strict";
const { io } = require("socket.io-client");

const [url, count] = [process.argv[2], Number(process.argv[3])];
const latencies = [];
const ids = new Set();
let welcomed = 0;
const sockets = [];

function open(i) {
  if (i >= count) return;
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnectionDelayMax: 2000 });
  socket.on("welcome", () => {
    welcomed += 1;
    if (welcomed === count) process.stdout.write("ready\n");
  });
  socket.on("crawled_repo", (event) => {
    latencies.push(Date.now() - Date.parse(event.crawledAt));
    ids.add(event.id);
  });
  sockets.push(socket);
  setTimeout(() => open(i + 1), 2); // a gentle ramp: a site never sees a thousand handshakes in one tick
}

let input = "";
process.stdin.on("data", (chunk) => {
  input += chunk;
  if (input.includes("stop")) {
    sockets.forEach((s) => s.close());
    process.stdout.write(JSON.stringify({ delivered: latencies.length, distinct: ids.size, latencies }) + "\n", () => process.exit(0));
  }
});
open(0);
