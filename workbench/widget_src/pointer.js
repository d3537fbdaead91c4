// @ts-check
// Pointer routing: one active tool receives the pointer events of the viewport, already mapped
// to stream px. The tools themselves are in tools.js (marks, pan) and control.js (the
// customer's mouse).

/** @typedef {import("./transform.js").Point} Point */
/** @typedef {import("./transform.js").ViewTransform} ViewTransform */
/**
 * A pointer tool: each handler gets the DOM event and the pointer's position in stream px.
 * @typedef {object} Tool
 * @property {string} name
 * @property {(event: PointerEvent, point: Point) => void} [down]
 * @property {(event: PointerEvent, point: Point) => void} [move]
 * @property {(event: PointerEvent, point: Point) => void} [up]
 * @property {(event?: PointerEvent, point?: Point) => void} [cancel] also when the tool is put down
 */
/** @typedef {"down" | "move" | "up" | "cancel"} PointerKind */

/** Routes pointer events on `target` to one active tool as (event, streamPoint). A tool is
 * {name, down?, move?, up?, cancel?}; tools receive stream px so marks and clicks land right
 * whatever the zoom. Events on a form control over the picture (the text label's input) are not
 * for the tool. */
export class PointerRouter {
  /** @param {HTMLElement} target @param {Pick<ViewTransform, "clientToStream">} transform */
  constructor(target, transform) {
    this.target = target;
    this.transform = transform;
    /** @type {Tool | null} */
    this.tool = null;
    /** @type {Record<string, (event: PointerEvent) => void>} */
    this.handlers = {
      pointerdown: (event) => this._route("down", event),
      pointermove: (event) => this._route("move", event),
      pointerup: (event) => this._route("up", event),
      pointercancel: (event) => this._route("cancel", event),
    };
    for (const [name, handler] of Object.entries(this.handlers)) {
      target.addEventListener(name, /** @type {EventListener} */ (handler));
    }
  }

  /** @param {Tool | null} tool */
  setTool(tool) {
    this.tool?.cancel?.();
    this.tool = tool;
  }

  dispose() {
    this.setTool(null);
    for (const [name, handler] of Object.entries(this.handlers)) {
      this.target.removeEventListener(name, /** @type {EventListener} */ (handler));
    }
  }

  /** @param {PointerKind} kind @param {PointerEvent} event */
  _route(kind, event) {
    if (/** @type {Element | null} */ (event.target)?.closest?.("input, textarea, select, button")) return;
    const handler = this.tool?.[kind];
    if (handler) handler.call(this.tool, event, this.transform.clientToStream(event.clientX, event.clientY));
  }
}
