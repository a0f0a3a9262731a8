// A uWebSockets.js pub/sub relay: the fan-out ceiling of a native WebSocket server that keeps no
// state and filters nothing beyond topics (the peer of benches/relay.rs). See ../README.md.
//
//   node relay.js PORT        (or ./start.sh PORT: installs, then pins to CPU 0)
//
// Protocol (JSON text frames at ws://127.0.0.1:PORT/):
//   {"sub":["all"]}                      subscribe this connection to those topics (adds; may repeat)
//   {"pub":["c:12:7"],"msg":"<string>"}  send <string> verbatim, as one text frame, to every
//                                        connection subscribed to any listed topic
//   the relay sends nothing else (no acks).
//
// uWS shares one buffer per published message among a topic's subscribers (its TopicTree); each
// connection's backpressure is capped at 1 MiB, beyond which frames for it are skipped (uWS's own
// policy with closeOnBackpressureLimit off; benches/relay.rs drops on a full 1,024-frame queue).
"use strict";

const path = require("path");

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("usage: node relay.js PORT");
  process.exit(2);
}

// The package silently falls back to a pure-JavaScript implementation (on `ws`) when its native
// binary does not load, which would make this peer meaningless: load the native binary directly,
// and fail if it does not load.
function loadNative() {
  if (/^(1|true)$/i.test(process.env.UWS_USE_FALLBACK || "")) {
    throw new Error("UWS_USE_FALLBACK is set: refusing the JavaScript fallback");
  }
  const root = path.dirname(require.resolve("@trufflesuite/uws-js-unofficial/package.json"));
  const name = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  return require(path.join(root, "binaries", name));
}
const uWS = loadNative();

const decoder = new TextDecoder();
let app;
app = uWS
  .App()
  .ws("/*", {
    compression: uWS.DISABLED,
    maxPayloadLength: 16 * 1024 * 1024,
    maxBackpressure: 1024 * 1024,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
    sendPingsAutomatically: false,
    message: (ws, message, isBinary) => {
      let frame;
      try {
        frame = JSON.parse(decoder.decode(message));
      } catch {
        return;
      }
      if (frame === null || typeof frame !== "object") return;
      if (Array.isArray(frame.sub)) {
        for (const topic of frame.sub) {
          if (typeof topic === "string") ws.subscribe(topic);
        }
      }
      if (Array.isArray(frame.pub) && typeof frame.msg === "string") {
        for (const topic of frame.pub) {
          if (typeof topic === "string") app.publish(topic, frame.msg, false, false);
        }
      }
    },
  })
  .listen("127.0.0.1", port, (token) => {
    if (!token) {
      console.error(`relay: cannot listen on 127.0.0.1:${port}`);
      process.exit(1);
    }
    console.log(`listening ${port}`);
  });

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
