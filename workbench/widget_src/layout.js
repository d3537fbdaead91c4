// @ts-check
// The view's DOM: the bar (monitor, zoom, full screen, pop-out, status), the toolbar (tools, colours, undo, clear,
// control), the notice, and the viewport with the canvas and the layer drawn over it. Built
// once; the view fills it in.

import { element, svgElement } from "./dom.js";
import { PALETTE, TOOL_KEYS, TOOL_LABELS } from "./marks.js";
import { ZOOM_CHOICES } from "./zoom.js";

/** @typedef {import("./marks.js").ToolName} ToolName */
/**
 * @typedef {object} Layout
 * @property {HTMLDivElement} root focusable, so shortcuts and control keys reach it
 * @property {HTMLSelectElement} monitorSelect
 * @property {HTMLSelectElement} zoomSelect how large the picture is (zoom.js)
 * @property {HTMLButtonElement} fullScreenButton
 * @property {HTMLButtonElement} popOutButton
 * @property {HTMLSpanElement} statusLine
 * @property {HTMLDivElement} toolbar
 * @property {Partial<Record<ToolName, HTMLButtonElement>>} toolButtons
 * @property {HTMLButtonElement[]} colourButtons
 * @property {HTMLButtonElement} undoButton
 * @property {HTMLButtonElement} clearButton
 * @property {HTMLButtonElement} controlButton
 * @property {HTMLSpanElement} marksInfo
 * @property {HTMLSpanElement} noteLine
 * @property {HTMLDivElement} notice
 * @property {HTMLDivElement} viewport scrolls at 1:1
 * @property {HTMLDivElement} placeholder shown until the first frame
 * @property {HTMLDivElement} stage the canvas and its layer
 * @property {HTMLCanvasElement} canvas
 * @property {HTMLDivElement} layer everything drawn over the picture
 * @property {HTMLDivElement} hiddenLayer the hidden areas' labels
 * @property {SVGElement} marksSvg the previews of marks
 */

/** Build the view's elements, appended to `el`.
 * @param {HTMLElement} el @returns {Layout} */
export function buildLayout(el) {
  // Focusable, so that shortcuts and control keys reach it (and not the notebook's commands).
  const root = element("div", "wb-screen", { tabIndex: 0 });
  const bar = element("div", "wb-screen-bar");
  const monitorSelect = element("select", "wb-screen-monitor", { title: "Which of the customer's monitors to show" });
  const zoomSelect = element("select", "wb-screen-zoom", { title: "How large the picture is" });
  zoomSelect.append(...ZOOM_CHOICES.map(([value, text, title]) => element("option", "", { value, textContent: text, title })));
  const fullScreenButton = element("button", "wb-screen-fullscreen", { type: "button", textContent: "Full screen" });
  const popOutButton = element("button", "wb-screen-popout", {
    type: "button", textContent: "Pop out", title: "Open this view in a JupyterLab panel of its own",
  });
  const statusLine = element("span", "wb-screen-status", { role: "status" });
  bar.append(monitorSelect, zoomSelect, fullScreenButton, popOutButton, statusLine);
  const tools = buildToolbar();
  const notice = element("div", "wb-screen-notice", { hidden: true, role: "alert" });
  const viewport = element("div", "wb-screen-viewport");
  const placeholder = element("div", "wb-screen-placeholder", { textContent: "Waiting for the customer's screen…" });
  const stage = element("div", "wb-screen-stage", { hidden: true });
  const canvas = element("canvas", "wb-screen-canvas", { width: 0, height: 0 });
  // Everything drawn over the picture lives in this layer, positioned in % of the stream so it
  // follows any zoom without relayout: hidden-area labels, and the previews of marks being
  // drawn (an SVG whose viewBox is the stream's size, so it fits the same box).
  const layer = element("div", "wb-screen-layer");
  const hiddenLayer = element("div", "wb-screen-hidden-layer");
  const marksSvg = svgElement("svg", { class: "wb-screen-marks", viewBox: "0 0 1 1", preserveAspectRatio: "none" });
  layer.append(hiddenLayer, marksSvg);
  stage.append(canvas, layer);
  viewport.append(placeholder, stage);
  root.append(bar, tools.toolbar, notice, viewport);
  el.append(root);
  return { root, monitorSelect, zoomSelect, fullScreenButton, popOutButton, statusLine, ...tools, notice, viewport, placeholder, stage, canvas, layer,
           hiddenLayer, marksSvg };
}

function buildToolbar() {
  const toolbar = element("div", "wb-screen-tools", { role: "toolbar", ariaLabel: "Marks and control" });
  /** @param {HTMLElement[]} children */
  const group = (...children) => {
    const box = element("span", "wb-screen-group");
    box.append(...children);
    return box;
  };
  /** @type {Partial<Record<ToolName, HTMLButtonElement>>} */
  const toolButtons = {};
  for (const [key, name] of Object.entries(TOOL_KEYS)) {
    const button = element("button", "wb-screen-tool", {
      type: "button", textContent: TOOL_LABELS[name], title: `${TOOL_LABELS[name]} (${key.toUpperCase()})`,
    });
    button.dataset.tool = name;
    toolButtons[name] = button;
  }
  const { view, ...drawing } = toolButtons;
  const colourButtons = PALETTE.map(([name, colour], index) => {
    const button = element("button", "wb-screen-colour", { type: "button", title: `${name} (${index + 1})`,
                                                           ariaLabel: name });
    button.dataset.colour = colour;
    button.style.background = colour;
    return button;
  });
  const undoButton = element("button", "wb-screen-undo", {
    type: "button", textContent: "Undo", title: "Remove the last mark (Backspace, Ctrl+Z)",
  });
  const clearButton = element("button", "wb-screen-clear", {
    type: "button", textContent: "Clear", title: "Remove every mark (Shift+C)",
  });
  const controlButton = element("button", "wb-screen-control", { type: "button", textContent: "Control" });
  const marksInfo = element("span", "wb-screen-marks-info");
  const noteLine = element("span", "wb-screen-note", { role: "status" });
  const info = element("div", "wb-screen-info");
  info.append(marksInfo, noteLine);
  toolbar.append(group(/** @type {HTMLButtonElement} */ (view), .../** @type {HTMLButtonElement[]} */ (Object.values(drawing))),
                 group(...colourButtons), group(undoButton, clearButton), group(controlButton), info);
  return { toolbar, toolButtons, colourButtons, undoButton, clearButton, controlButton, marksInfo, noteLine };
}
