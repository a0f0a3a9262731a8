// Smoke check of a relay speaking the suite's relay protocol (either relay: uWS or benches/relay.rs).
//
//   node --experimental-websocket check.mjs PORT
//
// Node 20's built-in WebSocket client (behind the flag), nothing installed. Two subscribers and a
// publisher: A on "c:1:1", B on "all". Each subscriber first publishes a probe to a topic of its
// own and waits for it, which proves its subscription is in place (one connection's frames are
// handled in order). Then the publisher sends x1 to c:1:1, x2 to all, x3 to both; when x3 has
// reached both, A must have received exactly [x1, x3] and B [x2, x3]. No timing assertion: the
// only clock is a guard that fails the check instead of hanging if a frame never arrives.
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node --experimental-websocket check.mjs PORT");
  process.exit(2);
}
if (typeof WebSocket !== "function") {
  console.error("no WebSocket client: run with node --experimental-websocket (Node >= 20.10)");
  process.exit(2);
}
const url = `ws://127.0.0.1:${port}/`;
const guard = setTimeout(() => {
  console.error(`check ${url}: FAILED, a frame never arrived`);
  process.exit(1);
}, 10_000);

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.received = [];
    ws.waiters = [];
    ws.onmessage = (event) => {
      ws.received.push(String(event.data));
      for (const w of ws.waiters.splice(0)) w();
    };
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });
}
async function until(ws, predicate) {
  while (!predicate(ws.received)) await new Promise((r) => ws.waiters.push(r));
}
async function subscribe(ws, name, topics) {
  const probe = `probe:${name}`;
  ws.send(JSON.stringify({ sub: [...topics, probe] }));
  ws.send(JSON.stringify({ pub: [probe], msg: probe }));
  await until(ws, (r) => r.includes(probe));
  ws.received.length = 0;
}

const [a, b, p] = await Promise.all([open(), open(), open()]);
await subscribe(a, "a", ["c:1:1"]);
await subscribe(b, "b", ["all"]);
p.send(JSON.stringify({ pub: ["c:1:1"], msg: "x1" }));
p.send(JSON.stringify({ pub: ["all"], msg: "x2" }));
p.send(JSON.stringify({ pub: ["c:1:1", "all"], msg: '{"x":3,"s":"é\\n"}' }));
const x3 = '{"x":3,"s":"é\\n"}';
await Promise.all([until(a, (r) => r.includes(x3)), until(b, (r) => r.includes(x3))]);
clearTimeout(guard);
const ok =
  JSON.stringify(a.received) === JSON.stringify(["x1", x3]) &&
  JSON.stringify(b.received) === JSON.stringify(["x2", x3]);
console.log(`check ${url}: ${ok ? "ok" : "FAILED"} a=${JSON.stringify(a.received)} b=${JSON.stringify(b.received)}`);
for (const ws of [a, b, p]) ws.close();
process.exit(ok ? 0 : 1);
