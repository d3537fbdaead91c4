// @ts-check
// The agent's screen.info, screen.state and screen.control bodies read into the view's state,
// and what follows from them: the stream's origin on the virtual screen, the monitor choices,
// the boxes over hidden areas. Pure: bodies come from the wire, so every field is checked.

import { isInt } from "./protocol.js";
import { monitorLabel } from "./status.js";

/** @typedef {import("./transform.js").Point} Point */
/** @typedef {import("./status.js").Monitor} Monitor */
/** @typedef {import("./status.js").StateNotice} StateNotice */
/** @typedef {import("./status.js").ControlState} ControlState */
/** @typedef {import("./surface.js").HiddenArea} HiddenArea */
/** @typedef {{ text: string, style: string }} HiddenBox */

export const DEFAULT_HIDDEN_LABEL = "Hidden by the customer";

/** screen.info's monitors (those with an index).
 * @param {Record<string, any>} body @returns {Monitor[]} */
export function monitorsFrom(body) {
  return (Array.isArray(body.monitors) ? body.monitors : []).filter((/** @type {Monitor} */ m) => isInt(m.index));
}

/** screen.info's "stream": its monitor and origin on the virtual screen, or null.
 * @param {Record<string, any>} body @returns {Record<string, unknown> | null} */
export function streamFrom(body) {
  return body.stream && typeof body.stream === "object" ? body.stream : null;
}

/** The monitors as the view reports them to the kernel (the `monitors` trait).
 * @param {Monitor[]} monitors @returns {Monitor[]} */
export function monitorsTrait(monitors) {
  return monitors.map(({ index, x, y, width, height, primary }) => ({
    index, x, y, width, height, primary: Boolean(primary),
  }));
}

/** screen.state: paused, how many areas are hidden, and why.
 * @param {Record<string, any>} body @returns {StateNotice} */
export function stateNoticeFrom(body) {
  return {
    paused: Boolean(body.paused),
    hiddenCount: isInt(body.hidden_count) ? body.hidden_count : 0,
    reason: typeof body.reason === "string" ? body.reason : "",
  };
}

/** screen.control: whether the customer grants control and is using their computer.
 * @param {Record<string, any>} body @returns {ControlState} */
export function controlStateFrom(body) {
  return {
    granted: body.granted === true,
    customerActive: body.customer_active === true,
    resumeIn: Number.isFinite(body.resume_in) ? body.resume_in : null,
    graceS: Number.isFinite(body.grace_s) && body.grace_s > 0 ? body.grace_s : null,
  };
}

/** Where the stream's top left is on the virtual screen (desktop px). The frame drawn last says
 * where its own pixels are (`x`, `y`, from agents that send them): that wins, so a pointer always
 * maps through the picture it points at, whatever monitor was asked for meanwhile. Otherwise
 * screen.info's stream when it is about the monitor streamed, else the monitor's origin (the
 * union's for "all").
 * @param {number | "all" | undefined} monitor the monitor the frames say they show
 * @param {Record<string, unknown> | null} stream screen.info's "stream"
 * @param {Monitor[]} monitors
 * @param {Point | null} [frameOrigin] the origin the last frame drawn carried
 * @returns {Point} */
export function streamOrigin(monitor, stream, monitors, frameOrigin = null) {
  if (frameOrigin) return { x: frameOrigin.x, y: frameOrigin.y };
  if (stream && stream.monitor === monitor && Number.isFinite(stream.x) && Number.isFinite(stream.y)) {
    return { x: /** @type {number} */ (stream.x), y: /** @type {number} */ (stream.y) };
  }
  if (monitor === "all" || monitor === undefined) {
    if (!monitors.length) return { x: 0, y: 0 };
    return { x: Math.min(...monitors.map((m) => m.x)), y: Math.min(...monitors.map((m) => m.y)) };
  }
  const shown = monitors.find((m) => m.index === monitor);
  return shown ? { x: shown.x, y: shown.y } : { x: 0, y: 0 };
}

/** A frame body's own origin on the virtual screen, or null when it carries none (older agents).
 * @param {{ x?: unknown, y?: unknown }} body @returns {Point | null} */
export function frameOriginFrom(body) {
  // Monitors left of or above the primary have negative coordinates (Windows).
  const { x, y } = body;
  return Number.isInteger(x) && Number.isInteger(y) ? { x: /** @type {number} */ (x), y: /** @type {number} */ (y) } : null;
}

/** The monitor picker's [value, text] options; the current choice is kept even when the agent
 * has not (yet) listed it. Monitors are named by their 0-based index, as `s.screen(monitor=…)`,
 * `s.screenshot(monitor=…)`, `--hide-monitor` and the customer's window name them.
 * @param {Monitor[]} monitors @param {string} current @returns {[string, string][]} */
export function monitorOptions(monitors, current) {
  /** @type {[string, string][]} */
  const options = [["all", monitors.length > 1 ? "All monitors, side by side" : "All monitors"]];
  for (const monitor of monitors) options.push([String(monitor.index), monitorLabel(monitor)]);
  if (!options.some(([value]) => value === current)) options.push([current, `Monitor ${current}`]);
  return options;
}

/** The boxes drawn over hidden areas, placed in % of the stream so they scale with the picture.
 * @param {HiddenArea[]} hidden @param {number} width @param {number} height @returns {HiddenBox[]} */
export function hiddenBoxes(hidden, width, height) {
  /** @param {number} value @param {number} total */
  const percent = (value, total) => `${(100 * value) / total}%`;
  return hidden.map((area) => ({
    text: typeof area.label === "string" && area.label ? area.label : DEFAULT_HIDDEN_LABEL,
    style:
      `left:${percent(area.x, width)};top:${percent(area.y, height)};` +
      `width:${percent(area.w, width)};height:${percent(area.h, height)}`,
  }));
}
