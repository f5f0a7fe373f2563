// Load generator of bench.feed: COUNT socket.io browsers (the site's own client library, websocket transport
// only) on one Node process. Prints "ready" once every client got its welcome, then records each crawled_repo
// event's latency (arrival minus crawledAt).
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

// Commands, one a line on stdin: "count" prints how many events arrived so far; "stop" prints them all and exits.
let input = "";
process.stdin.on("data", (chunk) => {
  input += chunk;
  let newline;
  while ((newline = input.indexOf("\n")) >= 0) {
    const command = input.slice(0, newline).trim();
    input = input.slice(newline + 1);
    if (command === "count") {
      process.stdout.write(JSON.stringify({ delivered: latencies.length }) + "\n");
    } else if (command === "stop") {
      sockets.forEach((s) => s.close());
      process.stdout.write(JSON.stringify({ delivered: latencies.length, distinct: ids.size, latencies }) + "\n", () => process.exit(0));
    }
  }
});
open(0);
