// @ts-check
// The view's side of the annotation tools: sends marks, removals and clears to the agent, keeps
// the agent's list of marks (screen.marks) for the eraser and undo, owns the previews and the
// text label's input.

import { element } from "./dom.js";
import { DEFAULT_WIDTHS, MAX_TEXT_LENGTH, inkFor, isWireMark, markAt, markMessage, markToUndo, textSize } from "./marks.js";
import { MarkPreviews } from "./previews.js";
import { marksInfoText } from "./status.js";

/** @typedef {import("./transform.js").Point} Point */
/** @typedef {import("./transform.js").ViewTransform} ViewTransform */
/** @typedef {import("./marks.js").Stroke} Stroke */
/** @typedef {import("./marks.js").WireMark} WireMark */
/** @typedef {{ input: HTMLInputElement, point: Point, colour: string, width: number }} OpenText */
/**
 * @typedef {object} AnnotationsOptions
 * @property {SVGElement} svg where previews are drawn
 * @property {HTMLElement} layer where the text label's input goes
 * @property {HTMLElement} info the line that counts marks
 * @property {Pick<ViewTransform, "streamToDesktop" | "scale">} transform
 * @property {() => { width: number, height: number }} streamSize the stream's size in px
 * @property {(name: string, body: Record<string, unknown>) => boolean} send false when not sent
 * @property {(text: string) => void} note tell the technician
 * @property {() => void} refocus give the view the focus back
 */

const MAX_OWN_IDS = 200;

/** Marks sent, marks shown, and their previews. */
export class Annotations {
  /** @param {AnnotationsOptions} options */
  constructor({ svg, layer, info, transform, streamSize, send, note, refocus }) {
    this.layer = layer;
    this.info = info;
    this.transform = transform;
    this.streamSize = streamSize;
    this.send = send;
    this.note = note;
    this.refocus = refocus;
    this.previews = new MarkPreviews(svg);
    /** @type {WireMark[]} the agent's own list (screen.marks): what its overlay shows */
    this.marks = [];
    /** @type {string | null} */
    this.overlayName = null;
    /** @type {string[]} marks this view sent, oldest first (undo takes back the newest) */
    this.ownIds = [];
    this.idPrefix = `w${Math.random().toString(36).slice(2, 8)}`;
    this.idCount = 0;
    /** @type {OpenText | null} */
    this.textInput = null;
  }

  /** A mark id no other view uses. */
  newId() {
    return `${this.idPrefix}-${(this.idCount += 1)}`;
  }

  /** @param {number} x @param {number} y */
  _toDesktop(x, y) {
    return this.transform.streamToDesktop(x, y);
  }

  /** @param {Stroke} stroke */
  sendMark(stroke) {
    const mark = markMessage(stroke, (x, y) => this._toDesktop(x, y));
    if (!this.send("annotate.mark", { mark })) {
      this.previews.drop(stroke.id);
      this.note("Not connected: the mark was not sent.");
      return;
    }
    this.previews.sent(stroke.id);
    this.ownIds.push(stroke.id);
    if (this.ownIds.length > MAX_OWN_IDS) this.ownIds.shift();
  }

  /** @param {Stroke} stroke */
  sendLaser(stroke) {
    const mark = markMessage(stroke, (x, y) => this._toDesktop(x, y));
    if (this.send("annotate.mark", { mark })) this.previews.flash(stroke);
  }

  /** Ask for a label's words at `point` (stream px), in `colour`.
   * @param {Point} point @param {string} colour */
  openText(point, colour) {
    this.closeText(true);
    const width = DEFAULT_WIDTHS.text;
    const input = element("input", "wb-screen-text-input", {
      type: "text", maxLength: MAX_TEXT_LENGTH, placeholder: "Type, then Enter", spellcheck: false,
      ariaLabel: "Text of the label (Enter to place it, Escape to cancel)",
    });
    const { width: streamWidth, height: streamHeight } = this.streamSize();
    Object.assign(input.style, {
      left: `${(100 * point.x) / streamWidth}%`,
      top: `${(100 * point.y) / streamHeight}%`,
      fontSize: `${textSize(width) * this.transform.scale}px`,
      background: colour,
      color: inkFor(colour),
    });
    const open = { input, point, colour, width };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === "Escape") {
        event.preventDefault();
        this.closeText(event.key === "Enter");
        this.refocus();
      }
    });
    input.addEventListener("blur", () => this.closeText(true));
    this.textInput = open;
    this.layer.append(input);
    input.focus({ preventScroll: true });
  }

  /** Close the label's input, sending the label when `commit` and there are words.
   * @param {boolean} commit */
  closeText(commit) {
    const open = this.textInput;
    if (!open) return;
    this.textInput = null; // first: removing the input blurs it, which comes back here
    const text = open.input.value;
    open.input.remove();
    if (!commit || !text.trim()) return;
    /** @type {Stroke} */
    const stroke = { id: this.newId(), tool: "text", colour: open.colour, width: open.width, points: [open.point], text };
    this.previews.draw(stroke);
    this.sendMark(stroke);
  }

  /** @param {Point} point stream px */
  eraseAt(point) {
    const at = this._toDesktop(point.x, point.y);
    const reach = 6 / Math.max(this.transform.scale, 0.05); // 6 CSS px, in desktop px
    const mark = markAt(this.marks, at.x, at.y, reach);
    if (mark) this.send("annotate.remove", { id: mark.id });
    else this.note("No mark there.");
  }

  undo() {
    // A mark still on its way counts too: the agent handles the remove after the mark.
    const newest = this.ownIds.at(-1);
    const id = newest && this.previews.items.has(newest) ? newest : markToUndo(this.marks, this.ownIds);
    if (!id) {
      this.note("Nothing to undo.");
      return;
    }
    if (this.send("annotate.remove", { id })) {
      this.previews.drop(id);
      this.ownIds = this.ownIds.filter((own) => own !== id);
    }
  }

  clear() {
    this.closeText(false);
    if (this.send("annotate.clear", {})) this.previews.clear();
  }

  /** screen.marks: the agent's list, what its overlay is, and a refusal if any.
   * @param {Record<string, unknown>} body */
  onMarks(body) {
    this.marks = Array.isArray(body.marks) ? body.marks.filter(isWireMark) : [];
    this.overlayName = typeof body.overlay === "string" ? body.overlay : null;
    this.previews.confirm(this.marks.map((mark) => mark.id), /** @type {number | undefined} */ (body.shown_at));
    const refused = /** @type {{ id?: unknown, message?: string } | null | undefined} */ (body.refused);
    if (refused && typeof refused === "object") {
      if (typeof refused.id === "string") this.previews.drop(refused.id);
      this.note(`The customer's computer refused a mark: ${refused.message ?? "no reason given"}`);
    }
    this.renderInfo();
  }

  renderInfo() {
    const count = this.marks.filter((mark) => mark.tool !== "laser").length;
    this.info.textContent = marksInfoText(count, this.overlayName);
  }
}
