// Unit tests of workbench/widget_src/zoom.js and window_modes.js (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { cellOf, OUTPUT_VIEW_COMMAND, popOut, POP_OUT_BY_HAND } from "../../workbench/widget_src/window_modes.js";
import { isPannable, pictureSize, READABLE_SCALE, ZOOM_CHOICES, zoomFromValue, zoomValue } from "../../workbench/widget_src/zoom.js";

const screen = { width: 1920, height: 1080 };

test("fit to window keeps the whole screen in the room, whichever side binds", () => {
  assert.deepEqual(pictureSize(screen, { width: 960, height: 2000 }, "fit", 1), { width: 960, height: 540 });
  assert.deepEqual(pictureSize(screen, { width: 2000, height: 270 }, "fit", 1), { width: 480, height: 270 });
  // Never a fraction of a pixel over the room.
  const odd = pictureSize({ width: 1366, height: 768 }, { width: 777.7, height: 333.3 }, "fit", 1);
  assert.ok(odd.width <= 777.7 && odd.height <= 333.3, JSON.stringify(odd));
  // Full screen on a larger display: larger than 1:1.
  assert.deepEqual(pictureSize({ width: 960, height: 360 }, { width: 1920, height: 1080 }, "fit", 1),
                   { width: 1920, height: 720 });
});

test("fit to width ignores the height; 1:1 and shares count device pixels", () => {
  assert.deepEqual(pictureSize(screen, { width: 960, height: 100 }, "width", 1), { width: 960, height: 540 });
  assert.deepEqual(pictureSize(screen, { width: 100, height: 100 }, "1:1", 1), screen);
  assert.deepEqual(pictureSize(screen, { width: 100, height: 100 }, "1:1", 2), { width: 960, height: 540 });
  assert.deepEqual(pictureSize(screen, { width: 100, height: 100 }, 0.5, 1), { width: 960, height: 540 });
  assert.deepEqual(pictureSize({ width: 0, height: 0 }, { width: 100, height: 100 }, "fit", 1), { width: 0, height: 0 });
});

test("the readable zoom fits, but never below the readable share of 1:1", () => {
  const small = { width: 800, height: 450 };
  assert.deepEqual(pictureSize(screen, small, "readable", 1),
                   { width: 1920 * READABLE_SCALE, height: 1080 * READABLE_SCALE });
  assert.deepEqual(pictureSize(screen, { width: 3840, height: 2160 }, "readable", 1), { width: 3840, height: 2160 });
  assert.ok(isPannable("readable") && isPannable("1:1") && isPannable(0.75));
  assert.ok(!isPannable("fit") && !isPannable("width"));
});

test("the picker's values stand for the zooms they name", () => {
  for (const [value] of ZOOM_CHOICES) assert.equal(zoomValue(zoomFromValue(value)), value);
  assert.equal(zoomFromValue("0.75"), 0.75);
  assert.equal(zoomFromValue("nonsense"), "fit");
  assert.equal(ZOOM_CHOICES[0][0], "fit");
});

function fakeApp(panels, executed = []) {
  return {
    shell: { widgets: () => panels },
    commands: { hasCommand: (id) => id === OUTPUT_VIEW_COMMAND, execute: async (id, args) => { executed.push([id, args]); } },
  };
}

/** A stand-in DOM node: contains itself, its children and theirs. */
function node(...children) {
  const self = { contains: (other) => other === self || children.some((c) => c === other || c.contains?.(other)) };
  return self;
}

test("the pop-out opens the output view of the cell that holds the view, by path and index", async () => {
  const el = {};
  const cells = [{ node: node() }, { node: node(el) }];
  const panel = { node: node(...cells.map((c) => c.node)), context: { path: "work/quickstart.ipynb" }, content: { widgets: cells } };
  const other = { node: node(), context: { path: "other.ipynb" }, content: { widgets: [] } };
  assert.deepEqual(cellOf(/** @type {any} */ (fakeApp([other, panel])), /** @type {any} */ (el)),
                   { path: "work/quickstart.ipynb", index: 1 });
  const executed = [];
  const outcome = await popOut(/** @type {any} */ (el), /** @type {any} */ (fakeApp([panel], executed)));
  assert.deepEqual(outcome, { ok: true, message: "" });
  assert.deepEqual(executed, [[OUTPUT_VIEW_COMMAND, { path: "work/quickstart.ipynb", index: 1 }]]);
});

test("without JupyterLab's application, the pop-out says how to do it by hand", async () => {
  assert.deepEqual(await popOut(/** @type {any} */ ({}), undefined), { ok: false, message: POP_OUT_BY_HAND });
  const outcome = await popOut(/** @type {any} */ ({}), /** @type {any} */ (fakeApp([])));
  assert.equal(outcome.ok, false);
  assert.match(outcome.message, /not in a notebook's cell/);
});
