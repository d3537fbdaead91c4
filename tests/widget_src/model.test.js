// Unit tests of workbench/widget_src/model.js: traits reported to the kernel (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { IDLE_TRAITS, TraitPublisher } from "../../workbench/widget_src/model.js";

function fakeModel() {
  const log = [];
  return { log, set: (name, value) => log.push(["set", name, value]), save_changes: () => log.push(["save"]) };
}

test("only changed values are set, and all of one call in a single save", () => {
  const model = fakeModel();
  const traits = new TraitPublisher(model);
  assert.equal(traits.publish({ fps: 10, kbps: 200 }), true);
  assert.equal(traits.publish({ fps: 10, kbps: 250 }), true);
  assert.equal(traits.publish({ fps: 10 }), false);
  assert.deepEqual(model.log, [
    ["set", "fps", 10], ["set", "kbps", 200], ["save"],
    ["set", "kbps", 250], ["save"],
  ]);
});

test("values are compared by content, so an equal new list is not sent again", () => {
  const model = fakeModel();
  const traits = new TraitPublisher(model);
  const monitors = [{ index: 0, x: 0, y: 0, width: 800, height: 600, primary: true }];
  traits.publish({ monitors });
  traits.publish({ monitors: monitors.map((m) => ({ ...m })) });
  traits.publish({ latency_ms: null });
  traits.publish({ latency_ms: null });
  assert.deepEqual(model.log.filter(([kind]) => kind === "save").length, 2);
});

test("the idle traits say nothing flows, and cannot be changed by a caller", () => {
  assert.deepEqual({ ...IDLE_TRAITS }, { fps: 0, kbps: 0, latency_ms: null, latency_kind: "" });
  assert.ok(Object.isFrozen(IDLE_TRAITS));
});
