// Unit tests of workbench/widget_src/screen_state.js: the agent's state events read (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  controlStateFrom, DEFAULT_HIDDEN_LABEL, hiddenBoxes, monitorOptions, monitorsFrom, monitorsTrait, stateNoticeFrom,
  streamFrom, streamOrigin, frameOriginFrom,
} from "../../workbench/widget_src/screen_state.js";

const LEFT = { index: 0, x: -1920, y: 100, width: 1920, height: 1080 };
const RIGHT = { index: 1, x: 0, y: 0, width: 2560, height: 1440, primary: true };

test("screen.info: monitors without a whole index are dropped; a stream that is not an object is none", () => {
  assert.deepEqual(monitorsFrom({ monitors: [LEFT, { ...RIGHT, index: -1 }, { ...RIGHT, index: "1" }, RIGHT] }),
                   [LEFT, RIGHT]);
  assert.deepEqual(monitorsFrom({ monitors: "many" }), []);
  assert.deepEqual(monitorsFrom({}), []);
  assert.deepEqual(streamFrom({ stream: { monitor: 1, x: 0, y: 0 } }), { monitor: 1, x: 0, y: 0 });
  assert.equal(streamFrom({ stream: "all" }), null);
  assert.equal(streamFrom({}), null);
});

test("the monitors trait has exactly the monitor fields, primary always a boolean", () => {
  assert.deepEqual(monitorsTrait([{ ...LEFT, name: "DP-1" }, RIGHT]), [
    { ...LEFT, primary: false },
    RIGHT,
  ]);
});

test("screen.state and screen.control: bad or missing fields take safe values", () => {
  assert.deepEqual(stateNoticeFrom({ paused: 1, hidden_count: 2, reason: "customer" }),
                   { paused: true, hiddenCount: 2, reason: "customer" });
  assert.deepEqual(stateNoticeFrom({ hidden_count: -3, reason: 5 }), { paused: false, hiddenCount: 0, reason: "" });
  assert.deepEqual(controlStateFrom({ granted: true, customer_active: true, resume_in: 1.5, grace_s: 2 }),
                   { granted: true, customerActive: true, resumeIn: 1.5, graceS: 2 });
  assert.deepEqual(controlStateFrom({ granted: "yes", customer_active: 1, resume_in: "soon", grace_s: 0 }),
                   { granted: false, customerActive: false, resumeIn: null, graceS: null });
});

test("the stream's origin: screen.info's stream when it is about the monitor shown, else the monitor's", () => {
  const monitors = [LEFT, RIGHT];
  assert.deepEqual(streamOrigin(1, { monitor: 1, x: 5, y: 6 }, monitors), { x: 5, y: 6 });
  assert.deepEqual(streamOrigin(0, { monitor: 1, x: 5, y: 6 }, monitors), { x: -1920, y: 100 });  // stale stream info
  assert.deepEqual(streamOrigin(1, { monitor: 1, x: "5", y: 6 }, monitors), { x: 0, y: 0 });
  assert.deepEqual(streamOrigin("all", null, monitors), { x: -1920, y: 0 });  // the union's top left
  assert.deepEqual(streamOrigin(undefined, null, monitors), { x: -1920, y: 0 });
  assert.deepEqual(streamOrigin("all", null, []), { x: 0, y: 0 });
  assert.deepEqual(streamOrigin(7, null, monitors), { x: 0, y: 0 });
  // The frame's own origin wins: it says where the pixels under the pointer are, even when the
  // stream info or the monitor named disagree (finding 9: a request applied late).
  assert.deepEqual(streamOrigin(1, { monitor: "all", x: 0, y: 0 }, monitors, { x: 0, y: 0 }), { x: 0, y: 0 });
  assert.deepEqual(streamOrigin("all", null, monitors, { x: 1920, y: 0 }), { x: 1920, y: 0 });
  assert.deepEqual(frameOriginFrom({ x: 1920, y: 0 }), { x: 1920, y: 0 });
  assert.deepEqual(frameOriginFrom({ x: -1920, y: 5 }), { x: -1920, y: 5 });
  assert.equal(frameOriginFrom({}), null);
  assert.equal(frameOriginFrom({ x: "1920", y: 0 }), null);
  assert.equal(frameOriginFrom({ x: 1.5, y: 0 }), null);
});

test("the monitor picker lists all, each monitor, and keeps a choice the agent has not listed", () => {
  assert.deepEqual(monitorOptions([], "all"), [["all", "All monitors"]]);
  assert.deepEqual(monitorOptions([LEFT, RIGHT], "1"), [
    ["all", "All monitors, side by side"],
    ["0", "Monitor 0 (1920×1080)"],
    ["1", "Monitor 1 (2560×1440, primary)"],
  ]);
  assert.deepEqual(monitorOptions([LEFT], "2"), [["all", "All monitors"], ["0", "Monitor 0 (1920×1080)"], ["2", "Monitor 2"]]);
});

test("hidden areas become boxes in % of the stream, labelled by the customer or by default", () => {
  assert.deepEqual(hiddenBoxes([{ x: 100, y: 50, w: 200, h: 100, label: "Bank" }, { x: 0, y: 0, w: 400, h: 200, label: "" }],
                               400, 200), [
    { text: "Bank", style: "left:25%;top:25%;width:50%;height:50%" },
    { text: DEFAULT_HIDDEN_LABEL, style: "left:0%;top:0%;width:100%;height:100%" },
  ]);
  assert.deepEqual(hiddenBoxes([], 400, 200), []);
});
