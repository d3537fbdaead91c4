// Unit tests of workbench/widget_src/toolbar.js with stand-in buttons (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { controlButtonText, renderToolbar } from "../../workbench/widget_src/toolbar.js";

function button(dataset = {}) {
  return { dataset, attributes: {}, disabled: false, textContent: "", title: "",
           setAttribute(name, value) { this.attributes[name] = value; } };
}

function parts() {
  return {
    root: { dataset: {} },
    toolButtons: { view: button(), pen: button(), control: button() },
    colourButtons: [button({ colour: "#e53935" }), button({ colour: "#1e88e5" })],
    controlButton: button(),
    undoButton: button(),
    clearButton: button(),
  };
}

const pressed = (buttons) => Object.fromEntries(Object.entries(buttons).map(([name, b]) => [name, b.attributes["aria-pressed"]]));

test("the active tool and colour are pressed, and the root says which tool is active", () => {
  const toolbar = parts();
  renderToolbar(/** @type {any} */ (toolbar), { tool: "pen", colour: "#1e88e5", granted: false, live: true, controlOn: false });
  assert.equal(toolbar.root.dataset.tool, "pen");
  assert.deepEqual(pressed(toolbar.toolButtons), { view: "false", pen: "true", control: "false" });
  assert.deepEqual(toolbar.colourButtons.map((b) => b.attributes["aria-pressed"]), ["false", "true"]);
});

test("the control button can be used only while granted and live, and says when control is on", () => {
  const toolbar = parts();
  const render = (state) => {
    renderToolbar(/** @type {any} */ (toolbar), { tool: "view", colour: "", controlOn: false, ...state });
    const { disabled, textContent, title, attributes } = toolbar.controlButton;
    return [disabled, textContent, attributes["aria-pressed"], title];
  };
  assert.deepEqual(render({ granted: false, live: true }),
                   [true, "Control", "false", "The customer has not allowed control"]);
  assert.equal(render({ granted: true, live: false })[0], true);
  assert.deepEqual(render({ granted: true, live: true }),
                   [false, "Control", "false", controlButtonText({ granted: true, controlOn: false }).title]);
  assert.deepEqual(render({ granted: true, live: true, controlOn: true, tool: "control" }).slice(0, 3),
                   [false, "Control: on", "true"]);
  assert.equal(toolbar.root.dataset.tool, "control");
  assert.match(controlButtonText({ granted: true, controlOn: true }).title, /click to stop/);
  assert.match(controlButtonText({ granted: true, controlOn: false }).title, /take it back/);
});

test("once the session has ended, nothing that marks or controls can be pressed; looking still can", () => {
  const toolbar = parts();
  renderToolbar(/** @type {any} */ (toolbar),
                { tool: "view", colour: "#e53935", granted: true, live: false, controlOn: false, ended: true });
  assert.equal(toolbar.toolButtons.view.disabled, false);
  assert.equal(toolbar.toolButtons.pen.disabled, true);
  assert.ok(toolbar.colourButtons.every((b) => b.disabled));
  assert.ok(toolbar.undoButton.disabled && toolbar.clearButton.disabled && toolbar.controlButton.disabled);
  assert.equal(toolbar.controlButton.title, "The session has ended");
  renderToolbar(/** @type {any} */ (toolbar), { tool: "pen", colour: "#e53935", granted: true, live: true, controlOn: false });
  assert.ok(!toolbar.toolButtons.pen.disabled && !toolbar.undoButton.disabled && !toolbar.controlButton.disabled);
});
