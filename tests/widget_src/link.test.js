// Unit tests of workbench/widget_src/link.js with a stand-in WebSocket (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ScreenLink } from "../../workbench/widget_src/link.js";
import { encodeBinary } from "../../workbench/widget_src/protocol.js";

function harness() {
  /** @type {FakeSocket[]} */
  const sockets = [];
  class FakeSocket {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = 0;
      this.closedWith = null;
      sockets.push(this);
    }
    send(data) { this.sent.push(JSON.parse(data)); }
    close(code, reason) { this.closedWith = [code, reason]; this.readyState = 3; }
    open() { this.readyState = 1; this.onopen?.(); }
    receive(data) { this.onmessage?.({ data }); }
  }
  const states = [];
  const received = [];
  const link = new ScreenLink({
    url: "ws://relay", sessionId: "S", token: "T", WebSocketImpl: FakeSocket,
    onMessage: (msg, payload) => received.push([msg.name, [...payload]]),
    onState: (state, detail) => states.push([state, detail]),
  });
  return { link, sockets, states, received };
}

test("binary frames after the welcome reach onMessage with their payload", (t) => {
  const { link, sockets, received } = harness();
  t.after(() => link.dispose());
  link.start();
  sockets[0].open();
  sockets[0].receive(JSON.stringify({ v: 1, type: "welcome", viewer_id: "v1" }));
  sockets[0].receive(encodeBinary({ type: "event", name: "screen.frame", body: {} }, new Uint8Array([1, 2])).buffer);
  sockets[0].receive("not json");  // dropped, the link stays up
  assert.deepEqual(received, [["screen.frame", [1, 2]]]);
  assert.equal(link.live, true);
});

test("an error before the welcome closes the socket; a malformed URL is refused for good", (t) => {
  const { link, sockets } = harness();
  t.after(() => link.dispose());
  link.start();
  sockets[0].open();
  sockets[0].receive(JSON.stringify({ v: 1, type: "error", code: "busy", message: "later" }));
  assert.deepEqual(sockets[0].closedWith, [4001, "hello refused"]);

  const states = [];
  const broken = new ScreenLink({
    url: "nonsense", sessionId: "S", token: "T",
    WebSocketImpl: class { constructor() { throw new Error("bad URL"); } },
    onMessage: () => {}, onState: (state, detail) => states.push([state, detail.message]),
  });
  broken.start();
  broken.start();
  assert.deepEqual(states, [["refused", "cannot open nonsense: bad URL"]]);
  assert.equal(broken.terminal, "refused");
});

test("dispose silences every callback and sends nothing more", () => {
  const { link, sockets, states } = harness();
  link.start();
  sockets[0].open();
  sockets[0].receive(JSON.stringify({ v: 1, type: "welcome" }));
  const before = states.length;
  link.dispose();
  assert.equal(states.length, before);
  assert.equal(link.send("screen.ack", { seq: 1 }), false);
  assert.deepEqual(sockets[0].closedWith, [1000, "view closed"]);
});
