// Unit tests of workbench/widget_src/previews.js, pointer.js and the pan, text and eraser tools
// (node --test, with a stand-in document).
import assert from "node:assert/strict";
import { test } from "node:test";

import { PointerRouter } from "../../workbench/widget_src/pointer.js";
import { MarkPreviews } from "../../workbench/widget_src/previews.js";
import { createEraserTool, createPanTool, createTextTool } from "../../workbench/widget_src/tools.js";
import { FakeNode, installDocument } from "./fakes.js";

installDocument();

const stroke = (id) => ({ id, tool: "pen", colour: "#e53935", width: 4, points: [{ x: 1, y: 2 }, { x: 3, y: 4 }] });

test("a preview goes once a frame captured after the agent drew its mark is drawn", () => {
  let now = 0;
  const svg = new FakeNode("svg");
  const previews = new MarkPreviews(/** @type {any} */ (svg), () => now);
  previews.draw(stroke("a"));
  previews.draw(stroke("b"));
  previews.draw(stroke("a"));  // redrawn in place
  assert.deepEqual(svg.children.map((g) => g.attributes["data-mark"]), ["a", "b"]);
  assert.equal(svg.children[0].children[0].tag, "polyline");
  previews.sent("a");
  previews.sent("b");
  previews.confirm(["a", "b"], 1000);
  previews.frameDrawn(999);  // captured before the agent drew them
  assert.deepEqual(previews.pending, ["a", "b"]);
  previews.frameDrawn(1000);
  assert.deepEqual(previews.pending, []);
  assert.deepEqual(svg.children, []);
});

test("unconfirmed previews go after a while, drafts stay; clear drops everything", () => {
  let now = 0;
  const svg = new FakeNode("svg");
  const previews = new MarkPreviews(/** @type {any} */ (svg), () => now);
  previews.draw(stroke("draft"));
  previews.draw(stroke("lost"));
  previews.sent("lost");
  now = 3999;
  previews.sweep();
  assert.deepEqual(previews.pending, ["draft", "lost"]);
  now = 4001;
  previews.sweep();
  assert.deepEqual(previews.pending, ["draft"]);
  previews.resize(640, 480);
  assert.equal(svg.attributes.viewBox, "0 0 640 480");
  previews.clear();
  assert.deepEqual([previews.pending, svg.children], [[], []]);
});

test("a laser flash is not kept as a preview", () => {
  const svg = new FakeNode("svg");
  const previews = new MarkPreviews(/** @type {any} */ (svg));
  previews.flash({ ...stroke("l"), tool: "laser" });
  assert.deepEqual([previews.pending, svg.children], [[], []]);  // no animate(): removed at once
});

function fakeTarget() {
  const listeners = {};
  return {
    listeners,
    addEventListener: (name, handler) => { listeners[name] = handler; },
    removeEventListener: (name, handler) => { if (listeners[name] === handler) delete listeners[name]; },
  };
}

test("the router maps pointer events to stream px for the active tool, not for form controls", () => {
  const target = fakeTarget();
  const router = new PointerRouter(/** @type {any} */ (target), { clientToStream: (x, y) => ({ x: x * 2, y: y * 2 }) });
  const seen = [];
  let cancelled = 0;
  router.setTool({ name: "t", down: (event, point) => seen.push(["down", point]), cancel: () => { cancelled += 1; } });
  const onPicture = { target: { closest: () => null }, clientX: 5, clientY: 6 };
  target.listeners.pointerdown(onPicture);
  target.listeners.pointermove(onPicture);  // the tool has no move: ignored
  target.listeners.pointerdown({ ...onPicture, target: { closest: () => ({}) } });  // on the label's input
  assert.deepEqual(seen, [["down", { x: 10, y: 12 }]]);
  router.dispose();
  assert.equal(cancelled, 1);  // the tool was put down
  assert.deepEqual(target.listeners, {});
});

test("the pan tool drags the scroll position, only when active and with the left button", () => {
  const classes = new Set();
  const viewport = { scrollLeft: 100, scrollTop: 50, classList: { add: (c) => classes.add(c), remove: (c) => classes.delete(c) } };
  let active = false;
  const pan = createPanTool(/** @type {any} */ (viewport), () => active);
  const ev = (clientX, clientY, button = 0) => ({ clientX, clientY, button, pointerId: 1, preventDefault() {} });
  pan.down(ev(10, 10));
  pan.move(ev(0, 0));
  assert.deepEqual([viewport.scrollLeft, viewport.scrollTop], [100, 50]);  // fitted: nothing to pan
  active = true;
  pan.down(ev(10, 10, 2));
  pan.move(ev(0, 0));
  assert.equal(viewport.scrollLeft, 100);  // not the left button
  pan.down(ev(10, 10));
  assert.ok(classes.has("wb-screen-panning"));
  pan.move(ev(4, 0));
  assert.deepEqual([viewport.scrollLeft, viewport.scrollTop], [106, 60]);
  pan.up(ev(4, 0));
  pan.move(ev(100, 100));
  assert.deepEqual([viewport.scrollLeft, viewport.scrollTop, classes.size], [106, 60, 0]);
});

test("the text and eraser tools act on a left click on the picture only", () => {
  const calls = [];
  const host = /** @type {any} */ ({
    contains: (p) => p.x >= 0,
    openText: (p) => calls.push(["text", p.x]),
    eraseAt: (p) => calls.push(["erase", p.x]),
  });
  const click = (button = 0) => ({ button, preventDefault() {} });
  const text = createTextTool(host);
  const eraser = createEraserTool(host);
  text.down(click(), { x: 1, y: 0 });
  text.down(click(2), { x: 2, y: 0 });
  text.down(click(), { x: -1, y: 0 });
  eraser.down(click(), { x: 3, y: 0 });
  assert.deepEqual(calls, [["text", 1], ["erase", 3]]);
});
