// Unit tests of workbench/widget_src/surface.js and transform.js with a logging canvas (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { decodePalette } from "../../workbench/widget_src/frame_format.js";
import { decodeRects, ScreenSurface } from "../../workbench/widget_src/surface.js";
import { ViewTransform } from "../../workbench/widget_src/transform.js";
import { fakeCanvas, installImageData } from "./fakes.js";

installImageData();

const raw = (x, y, w, h) => ({ x, y, w, h, codec: "raw", len: w * h * 4 });

/** Push frames and wait until each was reported done. */
function drawAll(surface, frames) {
  return new Promise((resolve) => {
    const done = [];
    surface.onFrameDone = (body, outcome) => {
      done.push([body.seq, outcome.skipped, outcome.error?.message ?? null]);
      if (done.length === frames.length) resolve(done);
    };
    for (const [body, payload] of frames) surface.push(body, payload);
  });
}

test("raw BGRX pixels become RGBA, copies come from the canvas, hidden areas are painted over", async () => {
  const canvas = fakeCanvas();
  const resized = [];
  const surface = new ScreenSurface(/** @type {any} */ (canvas), { onResize: (...args) => resized.push(args) });
  const body = {
    seq: 1, key: true, width: 4, height: 2,
    rects: [raw(0, 0, 1, 1), { x: 2, y: 0, w: 2, h: 2, codec: "copy", len: 0, sx: 0, sy: 0 }],
    hidden: [{ x: 1, y: 1, w: 1, h: 1, label: "bank" }, { x: -1, y: 0, w: 1, h: 1 }],
  };
  const done = await drawAll(surface, [[body, new Uint8Array([10, 20, 30, 0])]]);
  assert.deepEqual(done, [[1, false, null]]);
  assert.deepEqual(resized, [[4, 2, true]]);
  assert.deepEqual(canvas.log, [
    ["put", 0, 0, [30, 20, 10, 255]],
    ["draw", 0, 0, 2, 2, 2, 0, 2, 2],
    ["fill", "#303030", 1, 1, 1, 1],
  ]);
  assert.deepEqual(surface.hidden, [{ x: 1, y: 1, w: 1, h: 1, label: "bank" }]);  // a bad area is dropped
  assert.equal(surface.framesDrawn, 1);
});

test("a copy goes by way of a scratch canvas, which grows to the largest copy and keeps its size", async () => {
  const canvas = fakeCanvas();
  const scratch = fakeCanvas();
  /** which canvas each draw read from */
  const sources = [];
  for (const [name, target] of [["picture", canvas], ["scratch", scratch]]) {
    const ctx = target.getContext();
    const draw = ctx.drawImage;
    ctx.drawImage = (source, ...args) => {
      sources.push([name, source === canvas ? "picture" : source === scratch ? "scratch" : "?"]);
      draw(source, ...args);
    };
  }
  let made = 0;
  const surface = new ScreenSurface(/** @type {any} */ (canvas), { makeScratch: () => { made += 1; return scratch; } });
  const copy = (sx, sy, w, h) => ({ x: 0, y: 0, w, h, codec: "copy", len: 0, sx, sy });
  const done = await drawAll(surface, [
    [{ seq: 1, key: true, width: 6, height: 4, rects: [copy(0, 1, 5, 3)] }, new Uint8Array(0)],
    [{ seq: 2, width: 6, height: 4, rects: [copy(1, 0, 2, 2)] }, new Uint8Array(0)],
  ]);
  assert.deepEqual(done, [[1, false, null], [2, false, null]]);
  assert.equal(made, 1);
  assert.deepEqual([scratch.width, scratch.height], [5, 3]);
  assert.deepEqual(sources, [["scratch", "picture"], ["picture", "scratch"], ["scratch", "picture"], ["picture", "scratch"]]);
  assert.deepEqual(scratch.log, [["draw", 0, 1, 5, 3, 0, 0, 5, 3], ["draw", 1, 0, 2, 2, 0, 0, 2, 2]]);
  assert.deepEqual(canvas.log, [["draw", 0, 0, 5, 3, 0, 0, 5, 3], ["draw", 0, 0, 2, 2, 0, 0, 2, 2]]);
  assert.equal(canvas.getContext().imageSmoothingEnabled, false);
});

test("a key frame supersedes the deltas queued before it; every frame is reported, in order", async () => {
  const surface = new ScreenSurface(/** @type {any} */ (fakeCanvas(2, 2)));
  const pixel = new Uint8Array(4);
  const done = await drawAll(surface, [
    [{ seq: 1, rects: [raw(0, 0, 1, 1)] }, pixel],
    [{ seq: 2, rects: [raw(0, 0, 1, 1)] }, pixel],
    [{ seq: 3, key: true, rects: [raw(0, 0, 1, 1)] }, pixel],
  ]);
  assert.deepEqual(done, [[1, false, null], [2, true, null], [3, false, null]]);
});

test("bad frames are reported as errors and not drawn", async () => {
  const canvas = fakeCanvas(4, 4);
  const surface = new ScreenSurface(/** @type {any} */ (canvas));
  const done = await drawAll(surface, [
    [{ seq: 1, rects: [raw(0, 0, 1, 1)] }, new Uint8Array(3)],
    [{ seq: 2, rects: [{ ...raw(0, 0, 1, 1), len: 3 }] }, new Uint8Array(3)],
    [{ seq: 3, rects: [{ x: 0, y: 0, w: 1, h: 1, codec: "gif", len: 0 }] }, new Uint8Array(0)],
    [{ seq: 4, width: 4, height: 4, rects: [{ x: 0, y: 0, w: 2, h: 2, codec: "copy", len: 0, sx: 3, sy: 0 }] },
     new Uint8Array(0)],
    [{ seq: 5, rects: [{ ...raw(0, 0, 1, 1), x: -1 }] }, new Uint8Array(4)],
  ]);
  assert.deepEqual(done, [
    [1, false, "rects longer than the payload"], [2, false, "raw rect of wrong size"],
    [3, false, "unknown codec gif"], [4, false, "copy rect from outside the frame"],
    [5, false, "rect with bad geometry"],
  ]);
  assert.deepEqual(canvas.log, []);
});

test("decodeRects closes what it decoded when another rect fails", async () => {
  const closed = [];
  globalThis.createImageBitmap = async () => ({ close: () => closed.push("bitmap") });
  const body = { rects: [{ x: 0, y: 0, w: 1, h: 1, codec: "png", len: 1 }, { x: 0, y: 0, w: 1, h: 1, codec: "?", len: 0 }] };
  await assert.rejects(decodeRects(body, new Uint8Array(1)), /unknown codec/);
  assert.deepEqual(closed, ["bitmap"]);
});

test("reset forgets queued frames: nothing more is reported for them", async () => {
  const surface = new ScreenSurface(/** @type {any} */ (fakeCanvas(2, 2)));
  const done = [];
  surface.onFrameDone = (body) => done.push(body.seq);
  surface.push({ seq: 1, rects: [raw(0, 0, 1, 1)] }, new Uint8Array(4));
  surface.reset();
  await drawAll(surface, [[{ seq: 2, rects: [] }, new Uint8Array(0)]]);
  assert.deepEqual(done, []);  // seq 1 dropped; seq 2 went to drawAll's own callback
});

test("the transform maps client, stream and desktop pixels both ways", () => {
  const canvas = fakeCanvas(200, 100, { left: 10, top: 20, width: 100, height: 50 });
  const transform = new ViewTransform(/** @type {any} */ (canvas), () => ({ x: 1920, y: 0 }));
  assert.equal(transform.scale, 0.5);
  assert.deepEqual(transform.clientToStream(60, 45), { x: 100, y: 50 });
  assert.deepEqual(transform.streamToClient(100, 50), { x: 60, y: 45 });
  assert.deepEqual(transform.streamToDesktop(100, 50), { x: 2020, y: 50 });
  assert.deepEqual(transform.desktopToStream(2020, 50), { x: 100, y: 50 });
  assert.deepEqual([{ x: 0, y: 0 }, { x: 199.5, y: 99 }, { x: 200, y: 0 }, { x: -1, y: 5 }].map((p) => transform.containsStream(p)),
                   [true, true, false, false]);
  assert.equal(new ViewTransform(/** @type {any} */ (fakeCanvas())).scale, 1);  // no picture yet
});

/** A format-2 payload (docs/screen-protocol.md): header, rectangles' table, then their bytes. */
function format2(seq, flags, width, height, rects, data = new Uint8Array(0)) {
  const table = rects.reduce((size, r) => size + 9 + (r.codec === "fill" ? 3 : 4), 0);
  const bytes = new Uint8Array(19 + table + data.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, seq);
  view.setFloat64(4, 1733539200123.4);
  view.setUint16(12, width);
  view.setUint16(14, height);
  view.setUint8(16, flags);
  view.setUint16(17, rects.length);
  let offset = 19;
  for (const r of rects) {
    view.setUint8(offset, ["copy", "fill", "png", "jpeg", "raw"].indexOf(r.codec));
    [r.x, r.y, r.w, r.h].forEach((v, i) => view.setUint16(offset + 1 + 2 * i, v));
    offset += 9;
    if (r.codec === "copy") {
      view.setUint16(offset, r.sx);
      view.setUint16(offset + 2, r.sy);
    } else if (r.codec === "fill") {
      r.rgb.forEach((c, i) => view.setUint8(offset + i, c));
    } else {
      view.setUint32(offset, r.len);
    }
    offset += r.codec === "fill" ? 3 : 4;
  }
  bytes.set(data, offset);
  return bytes;
}

test("format 2: the binary table is read, fills are painted, the frame is reported with its seq", async () => {
  const canvas = fakeCanvas();
  const surface = new ScreenSurface(/** @type {any} */ (canvas));
  const payload = format2(70000, 1, 4, 2, [
    { x: 0, y: 0, w: 4, h: 2, codec: "fill", rgb: [250, 128, 0] },
    { x: 1, y: 1, w: 1, h: 1, codec: "raw", len: 4 },
  ], new Uint8Array([10, 20, 30, 0]));
  const reported = [];
  surface.onFrameDone = (body, outcome) => reported.push([body.seq, body.key, body.monitor, body.captured_at, outcome.error]);
  const done = new Promise((resolve) => { const onDone = surface.onFrameDone; surface.onFrameDone = (...a) => { onDone(...a); resolve(); }; });
  surface.push({ fmt: 2 }, payload);
  await done;
  assert.deepEqual(reported, [[70000, true, "all", 1733539200123.4, null]]);
  assert.deepEqual(canvas.log, [["fill", "rgb(250,128,0)", 0, 0, 4, 2], ["put", 1, 1, [30, 20, 10, 255]]]);
});

test("format 2: a cut table, an unknown codec or format is an error, not a drawing", async () => {
  const canvas = fakeCanvas(4, 4);
  const surface = new ScreenSurface(/** @type {any} */ (canvas));
  const good = format2(1, 0, 4, 4, [{ x: 0, y: 0, w: 1, h: 1, codec: "fill", rgb: [1, 2, 3] }]);
  const unknown = good.slice();
  unknown[19] = 9;
  const errors = [];
  const all = new Promise((resolve) => {
    surface.onFrameDone = (body, outcome) => {
      errors.push(outcome.error?.message ?? null);
      if (errors.length === 4) resolve();
    };
  });
  surface.push({ fmt: 2 }, good.subarray(0, 25));
  surface.push({ fmt: 2 }, unknown);
  surface.push({ fmt: 4 }, good);
  surface.push({ fmt: 2 }, good);
  await all;
  assert.match(errors[0], /cut/);
  assert.match(errors[1], /codec number 9/);
  assert.match(errors[2], /format 4/);
  assert.equal(errors[3], null);
  assert.deepEqual(canvas.log, [["fill", "rgb(1,2,3)", 0, 0, 1, 1]]);
});

test("pal rects (bytes made by agent/screen/encode.py) decode to their pixels, packed or deflated", async () => {
  // 3 colours (2 bits an index), packed: rows [red, green, blue], [blue, green, red].
  const packed = await decodePalette(new Uint8Array([2, 0, 0, 255, 0, 255, 0, 255, 0, 0, 0, 144, 24]), 3, 2);
  const pixel = (image, i) => Array.from(image.data.slice(4 * i, 4 * i + 4));
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => pixel(packed, i)), [
    [255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [0, 0, 255, 255], [0, 255, 0, 255], [255, 0, 0, 255]]);
  // 64x64, left half red, right half green, deflated (mode 1).
  const deflated = await decodePalette(new Uint8Array(
    [1, 0, 255, 0, 255, 0, 0, 1, 251, 255, 255, 255, 127, 6, 32, 248, 63, 74, 143, 72, 26, 0]), 64, 64);
  assert.deepEqual([pixel(deflated, 0), pixel(deflated, 31), pixel(deflated, 32), pixel(deflated, 64 * 64 - 1)],
    [[255, 0, 0, 255], [255, 0, 0, 255], [0, 255, 0, 255], [0, 255, 0, 255]]);
  await assert.rejects(decodePalette(new Uint8Array([0, 0, 0, 0, 0, 0x80]), 1, 1), /index past/);
  await assert.rejects(decodePalette(new Uint8Array([0, 0, 0, 0, 2, 0]), 1, 1), /mode 2/);
  await assert.rejects(decodePalette(new Uint8Array([1, 0, 0, 0, 255, 255, 255, 0]), 8, 1), /wrong size/);
});

test("format 3: a frame before the stream's key frame is reported by its seq (acked), then frames draw", async () => {
  const canvas = fakeCanvas(4, 4);
  const surface = new ScreenSurface(/** @type {any} */ (canvas));
  // u8 flags | varint seq | key: f64 base, else varint ms | size flag: varint w, h | varint count | rects
  const base = new Uint8Array(new Float64Array([1733539200000]).buffer).reverse(); // big endian
  const key = Uint8Array.from([5, 7, ...base, 4, 4, 1, 1, 0, 0, 4, 4, 1, 2, 3]); // a fill of the whole 4x4
  const delta = Uint8Array.from([0, 8, 40, 1, 1, 1, 1, 2, 2, 9, 8, 7]); // 40 ms later, a fill at 1,1
  const done = await drawAll(surface, [[{ fmt: 3 }, delta], [{ fmt: 3 }, key], [{ fmt: 3 }, delta]]);
  assert.equal(done[0][0], 8);
  assert.match(done[0][2], /before any key frame/);
  assert.deepEqual(done.slice(1), [[7, false, null], [8, false, null]]);
  assert.deepEqual(canvas.log, [["fill", "rgb(1,2,3)", 0, 0, 4, 4], ["fill", "rgb(9,8,7)", 1, 1, 2, 2]]);
  surface.reset(); // a new connection: a new stream, its state forgotten
  assert.equal(surface.stream.known, false);
});
