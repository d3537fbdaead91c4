// Unit tests of workbench/widget_src/stats.js and status.js (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { median, StreamStats } from "../../workbench/widget_src/stats.js";
import { clockTime, formatRate, marksInfoText, monitorLabel, noticeText, statusText } from "../../workbench/widget_src/status.js";

test("median of odd and even counts", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test("old samples leave the window", () => {
  let now = 0;
  const stats = new StreamStats(() => now);
  stats.frameReceived(1000);
  now = 5000;
  stats.frameReceived(250);
  const snapshot = stats.snapshot();
  assert.equal(snapshot.kbps, 1);  // only the recent 250 B over the 2 s window
  assert.equal(snapshot.fps, 0);
  assert.equal(snapshot.latencyMs, null);
});

const idle = { granted: false, customerActive: false, resumeIn: null, graceS: null };

test("the status line adds the stream's figures only while live", () => {
  const snapshot = { fps: 12.34, kbps: 1500, latencyMs: 20.4, latencyKind: "capture" };
  assert.equal(statusText("Live", idle, true, snapshot), "Live · 12.3 fps · latency 20 ms · 1.5 Mbit/s");
  assert.equal(statusText("Live", idle, false, snapshot), "Live");
  assert.equal(statusText("Live", idle, true, { ...snapshot, latencyMs: 31, latencyKind: "rtt" }),
               "Live · 12.3 fps · round trip 31 ms · 1.5 Mbit/s");
  assert.equal(statusText("Live", idle, true, { ...snapshot, latencyMs: null, latencyKind: "" }),
               "Live · 12.3 fps · latency – · 1.5 Mbit/s");
});

test("a still screen reads as live and idle since its last change, not as 0.0 fps", () => {
  const still = { fps: 0, kbps: 0, latencyMs: null, latencyKind: "", lastChangeAt: Date.UTC(2026, 0, 2, 13, 4, 5) };
  const text = statusText("Live", idle, true, still);
  assert.equal(text, `Live · idle, screen unchanged since ${clockTime(still.lastChangeAt)}`);
  assert.doesNotMatch(text, /fps|latency/);
  assert.match(clockTime(still.lastChangeAt), /^\d\d:04:05$/);
  assert.equal(statusText("Live", idle, true, { ...still, lastChangeAt: null }), "Live · waiting for the first picture");
});

test("the stream's statistics remember when the last frame was drawn", () => {
  let now = 0;
  let wall = 1_000_000;
  const stats = new StreamStats(() => now, () => wall);
  assert.equal(stats.snapshot().lastChangeAt, null);
  stats.frameDrawn(undefined);
  wall += 60_000;
  now = 60_000;
  const snapshot = stats.snapshot();
  assert.equal(snapshot.fps, 0);
  assert.equal(snapshot.lastChangeAt, 1_000_000);
  stats.reset();
  assert.equal(stats.snapshot().lastChangeAt, null);
});

test("the status line says when the customer holds the mouse, with the agent's grace period", () => {
  const busy = { ...idle, customerActive: true };
  assert.match(statusText("Live", busy, false, null), /^The customer is using their computer: your input resumes 2 s after/);
  assert.match(statusText("Live", { ...busy, graceS: 5 }, false, null), /resumes 5 s after they stop · Live$/);
});

test("rates, monitors, notices and the marks line in words", () => {
  assert.deepEqual([formatRate(999.6), formatRate(1000), formatRate(12_345)], ["1000 kbit/s", "1.0 Mbit/s", "12.3 Mbit/s"]);
  assert.equal(monitorLabel({ index: 1, x: 0, y: 0, width: 1920, height: 1080, primary: true }),
               "Monitor 1 (1920×1080, primary)");  // the API's 0-based index, as s.screen(monitor=1)
  assert.equal(noticeText({ paused: false, hiddenCount: 0, reason: "why" }), "");
  assert.equal(noticeText({ paused: true, hiddenCount: 2, reason: "lunch" }),
               "The customer has paused the view: the picture is frozen until they resume. "
               + "The customer has hidden 2 parts of their screen; those areas are not sent to you. (lunch)");
  assert.match(noticeText({ paused: false, hiddenCount: 1, reason: "" }), /hidden part of their screen/);
  assert.equal(marksInfoText(0, null), "");
  assert.equal(marksInfoText(1, "x11"), "1 mark on the customer's screen");
  assert.equal(marksInfoText(3, "none"),
               "3 marks on the customer's screen (not drawn on their screen: they are told in words)");
  assert.equal(marksInfoText(0, "none"), "(not drawn on their screen: they are told in words)");
});
