// Unit tests of workbench/widget_src/protocol.js and backoff.js (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffDelays } from "../../workbench/widget_src/backoff.js";
import { readFileSync } from "node:fs";

import { FrameNeedsKey, newStreamState, unpackFrame } from "../../workbench/widget_src/frame_format.js";
import {
  decodeMessage, encodeBinary, encodeCompactFrame, eventMessage, helloMessage, isInt,
} from "../../workbench/widget_src/protocol.js";

test("a binary frame round-trips through encodeBinary and decodeMessage", () => {
  const frame = encodeBinary({ type: "event", name: "screen.frame", body: { seq: 3 } }, new Uint8Array([9, 8, 7]));
  assert.deepEqual([...frame.subarray(0, 3)], [0x57, 0x42, 1]);
  const { msg, payload } = decodeMessage(frame.buffer);
  assert.deepEqual(msg, { v: 1, type: "event", name: "screen.frame", body: { seq: 3 } });
  assert.deepEqual([...payload], [9, 8, 7]);
});

test("a frame inside a bigger buffer is read at its own offset", () => {
  const frame = encodeBinary({ type: "welcome" });
  const padded = new Uint8Array(frame.byteLength + 5);
  padded.set(frame, 5);
  assert.equal(decodeMessage(padded.subarray(5)).msg.type, "welcome");
});

test("malformed messages are refused with a reason", () => {
  assert.throws(() => decodeMessage(new Uint8Array([1, 2, 3, 4, 5, 6, 7])), /WB prefix/);
  assert.throws(() => decodeMessage(new Uint8Array([0x57, 0x42, 1, 0, 0, 0, 99, 123, 125])), /out of range/);
  assert.throws(() => decodeMessage("[1]"), /JSON object/);
  assert.throws(() => decodeMessage('{"v": 2, "type": "x"}'), /protocol version 2/);
  assert.throws(() => decodeMessage('{"v": 1}'), /without a type/);
});

test("text messages carry the protocol version", () => {
  assert.deepEqual(JSON.parse(eventMessage("screen.ack", { seq: 1 })),
                   { v: 1, type: "event", name: "screen.ack", body: { seq: 1 } });
  assert.deepEqual(JSON.parse(helloMessage("S", "T")),
                   { v: 1, type: "hello", role: "viewer", session_id: "S", token: "T" });
});

test("isInt accepts whole numbers from 0 only", () => {
  assert.deepEqual([0, 7, -1, 1.5, "3", null, NaN].map(isInt), [true, true, false, false, false, false, false]);
});

test("backoff jitters around the doubling delay", () => {
  const low = backoffDelays({ random: () => 0 });
  const high = backoffDelays({ random: () => 1 });
  assert.deepEqual([low.next().value, low.next().value], [188, 375]);
  assert.deepEqual([high.next().value, high.next().value], [313, 625]);
});

// Frames the Python encoder wrote (tests/wire/test_compact_frame.py checks it still writes them).
const SHARED = JSON.parse(readFileSync(new URL("./compact_frames.json", import.meta.url), "utf8"));
const hex = (/** @type {string} */ text) => Uint8Array.from(text.match(/../g) ?? [], (b) => parseInt(b, 16));

test("compact screen frames written by Python decode to their screen.frame event", () => {
  assert.ok(SHARED.length >= 2);
  for (const shared of SHARED) {
    const { msg, payload } = decodeMessage(hex(shared.frame).buffer);
    assert.deepEqual(msg, { v: 1, type: "event", name: "screen.frame", body: shared.body });
    assert.deepEqual([...payload], [...hex(shared.payload)]);
    const frame = unpackFrame(/** @type {Record<string, any>} */ (msg.body), payload);
    assert.equal(frame.body.seq, shared.seq);
    assert.deepEqual(frame.body.rects.map((/** @type {any} */ r) => r.codec), shared.rects.map((/** @type {any} */ r) => r.codec));
    const { fmt, ...extra } = shared.body;
    assert.equal(fmt, 2);
    assert.deepEqual([...encodeCompactFrame(extra, hex(shared.payload))], [...hex(shared.frame)]);
  }
});

test("malformed compact frames are refused with a reason", () => {
  const head = new Uint8Array(19);
  const wf = (/** @type {number[]} */ prefix, /** @type {string} */ json, payload = head) => {
    const bytes = new TextEncoder().encode(json);
    return Uint8Array.from([...prefix, ...bytes, ...payload]);
  };
  assert.throws(() => decodeMessage(new Uint8Array([0x57, 0x46, 1])), /shorter than its prefix/);
  assert.throws(() => decodeMessage(wf([0x57, 0x46, 3, 0, 0], "")), /protocol version 3/);
  assert.throws(() => decodeMessage(wf([0x57, 0x46, 2, 0x80, 0x80, 0x80], "")), /extra length/);
  assert.throws(() => decodeMessage(wf([0x57, 0x46, 2, 0], "", head.subarray(0, 1))), /format-3 header/);
  assert.throws(() => decodeMessage(wf([0x57, 0x46, 1, 0, 99], "{}")), /run past the frame/);
  assert.throws(() => decodeMessage(wf([0x57, 0x46, 1, 0, 3], "[1]")), /JSON object without fmt/);
  assert.throws(() => decodeMessage(wf([0x57, 0x46, 1, 0, 9], '{"fmt":3}')), /without fmt/);
  assert.throws(() => decodeMessage(wf([0x57, 0x46, 1, 0, 0], "", head.subarray(0, 18))), /format-2 header/);
  assert.throws(() => decodeMessage(wf([0x57, 0x46, 1, 0, 2], "{x")), SyntaxError);
});

// Format 3 (envelope version 2), a stream's frames in order: tests/wire/test_compact_frame.py writes them.
const SHARED_3 = JSON.parse(readFileSync(new URL("./compact_frames3.json", import.meta.url), "utf8"));

test("format-3 frames written by Python read in order, size and time from the key frame", () => {
  const state = newStreamState();
  const first = decodeMessage(hex(SHARED_3[1].frame).buffer);
  assert.throws(() => unpackFrame(/** @type {Record<string, any>} */ (first.msg.body), first.payload, state),
    (/** @type {any} */ err) => err instanceof FrameNeedsKey && err.code === "frame_needs_key" && err.seq === 10);
  const frames = SHARED_3.map((/** @type {any} */ shared) => {
    const { msg, payload } = decodeMessage(hex(shared.frame).buffer);
    assert.deepEqual(msg.body, shared.body);
    return unpackFrame(/** @type {Record<string, any>} */ (msg.body), payload, state);
  });
  assert.deepEqual(frames.map((f) => [f.body.seq, f.body.key, f.body.width, f.body.height, f.body.monitor]),
    [[9, true, 1920, 1080, "all"], [10, false, 1920, 1080, "all"], [10, false, 1920, 1080, 1]]);
  assert.equal(frames[1].body.captured_at - frames[0].body.captured_at, 1234);
  assert.deepEqual(frames[0].body.rects[0].rgb, [1, 2, 3]);
  assert.deepEqual(frames[1].body.rects[0], { codec: "pal", len: 4, x: 80, y: 200, w: 7, h: 13 });
  assert.deepEqual([...frames[1].payload], [1, 0, 0, 0]);
  assert.throws(() => unpackFrame({ fmt: 3 }, Uint8Array.from([0, 1, 0, 1, 9, 0, 0, 1, 1]), state), /codec number 9/);
  assert.throws(() => unpackFrame({ fmt: 3 }, Uint8Array.from([0, 0xff, 0xff, 0xff, 0xff, 0x7f]), state), /seq/);
  assert.throws(() => unpackFrame({ fmt: 3 }, Uint8Array.from([5, 1, 0, 0]), state), /time base/);
  // The fuzzer's finding in screenfmt (tests/data/fuzz/frame/a-3-gigabyte-canvas): sides within
  // bounds, a picture of gigabytes. The size flag (4) on a frame of the known stream.
  const huge = [4, 11, 0, 0xff, 0xff, 0x01, 0xff, 0xff, 0x01, 0];
  assert.throws(() => unpackFrame({ fmt: 3 }, Uint8Array.from(huge), state), /pixels in all/);
  const tooWide = [4, 11, 0, 0x80, 0x80, 0x02, 1, 0];
  assert.throws(() => unpackFrame({ fmt: 3 }, Uint8Array.from(tooWide), state), /a side/);
});
