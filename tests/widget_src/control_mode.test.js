// Unit tests of workbench/widget_src/control_mode.js with a recording host (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ControlMode } from "../../workbench/widget_src/control_mode.js";

/** A control mode whose host records what is sent, switched and wheeled; `allowed` is settable. */
function harness({ allowed = true } = {}) {
  const sent = [];
  const switched = [];
  const wheeled = [];
  let released = 0;
  const state = { allowed };
  const tool = {
    name: "control",
    wheel: (event, point, notches) => wheeled.push([point, notches]),
    releaseAll: () => { released += 1; },
  };
  const mode = new ControlMode({
    tool: /** @type {any} */ (tool),
    allowed: () => state.allowed,
    send: (name, body) => { sent.push([name, body]); return true; },
    toStream: (x, y) => ({ x: x / 2, y: y / 2 }),
    switching: (on) => switched.push([on, sent.length]),
  });
  return { mode, sent, switched, wheeled, state, released: () => released };
}

/** A keyboard event as control mode reads it, recording preventDefault/stopPropagation. */
function key(fields) {
  const event = {
    key: "", code: "", ctrlKey: false, altKey: false, shiftKey: false, metaKey: false, repeat: false,
    prevented: false, stopped: false,
    preventDefault() { this.prevented = true; },
    stopPropagation() { this.stopped = true; },
    ...fields,
  };
  return event;
}

test("control turns on only while allowed, and says whether it changed", () => {
  const { mode, switched, state } = harness({ allowed: false });
  assert.equal(mode.set(true), false);
  assert.equal(mode.on, false);
  state.allowed = true;
  assert.equal(mode.set(true), true);
  assert.equal(mode.on, true);
  assert.equal(mode.set(true), false);  // already on: no second switch
  state.allowed = false;
  assert.equal(mode.set(false), true);  // off needs no permission
  assert.equal(mode.on, false);
  assert.deepEqual(switched.map(([on]) => on), [true, false]);
});

test("keys are ignored while control is off and taken while it is on", () => {
  const { mode, sent } = harness();
  const off = key({ key: "a", code: "KeyA" });
  assert.equal(mode.key(off, true), false);
  assert.equal(off.prevented || off.stopped, false);
  assert.deepEqual(sent, []);

  mode.set(true);
  const a = key({ key: "a", code: "KeyA" });
  assert.equal(mode.key(a, true), true);
  assert.equal(a.prevented && a.stopped, true);
  assert.equal(mode.key(key({ key: "a", code: "KeyA" }), false), true);  // a text key's up sends nothing
  mode.key(key({ key: "Enter", code: "Enter" }), true);
  mode.key(key({ key: "Enter", code: "Enter" }), false);
  assert.deepEqual(sent, [
    ["control.text", { text: "a" }],
    ["control.key", { action: "down", key: "Enter", code: "Enter", modifiers: [] }],
    ["control.key", { action: "up", key: "Enter", code: "Enter", modifiers: [] }],
  ]);
  assert.equal(mode.heldKeys.size, 0);
});

test("a held key's repeats are not sent (the customer's system repeats), a text key's are", () => {
  const { mode, sent } = harness();
  mode.set(true);
  mode.key(key({ key: "ArrowLeft", code: "ArrowLeft" }), true);
  const repeat = key({ key: "ArrowLeft", code: "ArrowLeft", repeat: true });
  assert.equal(mode.key(repeat, true), true);
  assert.equal(repeat.prevented, true);  // still not the page's
  mode.key(key({ key: "x", code: "KeyX", repeat: true }), true);
  assert.deepEqual(sent.map(([name, body]) => [name, body.action ?? body.text]), [
    ["control.key", "down"],
    ["control.text", "x"],
  ]);
});

test("a key released that was pressed before control was on is not released on the customer's side", () => {
  const { mode, sent } = harness();
  mode.set(true);
  const up = key({ key: "Shift", code: "ShiftLeft", shiftKey: false });
  assert.equal(mode.key(up, false), true);
  assert.equal(up.prevented, true);
  assert.deepEqual(sent, []);
});

test("turning control off releases held keys and buttons, after the host is told", () => {
  const { mode, sent, switched, released } = harness();
  mode.set(true);
  mode.key(key({ key: "Control", code: "ControlLeft", ctrlKey: true }), true);
  mode.key(key({ key: "Alt", code: "AltLeft", altKey: true, ctrlKey: true }), true);
  const before = released();
  mode.set(false);
  assert.deepEqual(switched.at(-1), [false, 2]);  // told before anything was released
  assert.deepEqual(sent.slice(2), [
    ["control.key", { action: "up", key: "Control", code: "ControlLeft", modifiers: ["ctrl"] }],
    ["control.key", { action: "up", key: "Alt", code: "AltLeft", modifiers: ["ctrl", "alt"] }],
  ]);
  assert.equal(released(), before + 1);
  assert.equal(mode.heldKeys.size, 0);
  mode.release();  // nothing held any more: only the tool is asked again
  assert.equal(sent.length, 4);
});

test("the wheel goes to the control tool in whole notches at the stream point, only while on", () => {
  const { mode, wheeled } = harness();
  const wheel = (deltaY) => ({
    deltaX: 0, deltaY, deltaMode: 0, clientX: 40, clientY: 20, prevented: false,
    preventDefault() { this.prevented = true; },
  });
  const scrolling = wheel(100);
  mode.wheel(scrolling);
  assert.equal(scrolling.prevented, false);  // off: the wheel scrolls the view
  assert.deepEqual(wheeled, []);
  mode.set(true);
  const events = [wheel(60), wheel(60), wheel(-300)];
  for (const event of events) mode.wheel(event);
  assert.ok(events.every((event) => event.prevented));
  assert.deepEqual(wheeled, [
    [{ x: 20, y: 10 }, { dx: 0, dy: 0 }],
    [{ x: 20, y: 10 }, { dx: 0, dy: 1 }],
    [{ x: 20, y: 10 }, { dx: 0, dy: -2 }],
  ]);
});

test("the context menu is suppressed only while control is on", () => {
  const { mode } = harness();
  const menu = () => ({ prevented: false, preventDefault() { this.prevented = true; } });
  const first = menu();
  mode.contextMenu(first);
  assert.equal(first.prevented, false);
  mode.set(true);
  const second = menu();
  mode.contextMenu(second);
  assert.equal(second.prevented, true);
});
