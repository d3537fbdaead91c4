// @ts-check
// Previews of marks being drawn or on their way to the customer's screen, in an SVG over the
// picture. The stream shows finished marks; previews only bridge the time until it does.

import { svgElement } from "./dom.js";
import { markShapes } from "./marks.js";

/** @typedef {import("./marks.js").Stroke} Stroke */
/** @typedef {{ node: SVGElement, state: "draft" | "sent" | "confirmed", since: number, shownAt: number | null | undefined }} Preview */

// The agent's laser life (agent/annotate/model.py).
const LASER_SECONDS = 1.5;
// A preview the agent never confirmed (refused, link lost, no frames) goes after this.
const PREVIEW_TIMEOUT_MS = 4_000;

/** Previews of marks being drawn or on their way, in an SVG whose viewBox is the stream's px.
 * A preview goes once the agent confirmed its mark (screen.marks) and a frame captured after the
 * agent drew it has been drawn, or after PREVIEW_TIMEOUT_MS in any case. Lasers fade by themselves. */
export class MarkPreviews {
  /** @param {SVGElement} svg @param {() => number} [now] */
  constructor(svg, now = () => performance.now()) {
    this.svg = svg;
    this.now = now;
    /** @type {Map<string, Preview>} */
    this.items = new Map();
  }

  /** @param {number} width @param {number} height */
  resize(width, height) {
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  }

  /** Draw (or redraw) the preview of a stroke in stream px.
   * @param {Stroke} stroke @returns {SVGElement} */
  draw(stroke) {
    const node = svgElement("g", { "data-mark": stroke.id, class: `wb-screen-preview wb-screen-preview-${stroke.tool}` });
    for (const [tag, attributes, text] of markShapes(stroke)) node.append(svgElement(tag, attributes, text ?? null));
    const old = this.items.get(stroke.id);
    if (old) old.node.replaceWith(node);
    else this.svg.append(node);
    this.items.set(stroke.id, { node, state: "draft", since: this.now(), shownAt: null });
    return node;
  }

  /** A laser segment: shown, fading out over the laser's life on the customer's screen.
   * @param {Stroke} stroke */
  flash(stroke) {
    const node = this.draw(stroke);
    this.items.delete(stroke.id);
    const fade = node.animate?.([{ opacity: 1 }, { opacity: 0 }], { duration: LASER_SECONDS * 1000, fill: "forwards" });
    if (fade) fade.onfinish = () => node.remove();
    else node.remove();
  }

  /** @param {string} id */
  sent(id) {
    const item = this.items.get(id);
    if (item) Object.assign(item, { state: "sent", since: this.now() });
  }

  /** @param {string} id */
  drop(id) {
    this.items.get(id)?.node.remove();
    this.items.delete(id);
  }

  /** screen.marks: previews of the listed marks wait for a frame captured at or after shownAt.
   * @param {readonly string[]} ids @param {number | undefined} shownAt */
  confirm(ids, shownAt) {
    for (const id of ids) {
      const item = this.items.get(id);
      if (item && item.state === "sent") Object.assign(item, { state: "confirmed", shownAt, since: this.now() });
    }
  }

  /** A frame was drawn: drop the previews its picture already shows.
   * @param {number | undefined} capturedAt */
  frameDrawn(capturedAt) {
    for (const [id, item] of this.items) {
      if (item.state !== "confirmed") continue;
      if (!Number.isFinite(item.shownAt) || !Number.isFinite(capturedAt)
          || /** @type {number} */ (capturedAt) >= /** @type {number} */ (item.shownAt)) this.drop(id);
    }
  }

  /** Drop previews that waited too long (refused, lost, or no frame came). */
  sweep() {
    const limit = this.now() - PREVIEW_TIMEOUT_MS;
    for (const [id, item] of this.items) if (item.state !== "draft" && item.since < limit) this.drop(id);
  }

  get pending() {
    return [...this.items.keys()];
  }

  clear() {
    for (const id of [...this.items.keys()]) this.drop(id);
    this.svg.replaceChildren();
  }
}
