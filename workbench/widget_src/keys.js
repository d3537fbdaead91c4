// @ts-check
// DOM keys and wheel → control.* events (docs/control-protocol.md), pure. Printable characters
// travel as control.text (they land as characters whatever the customer's layout); every other
// key, modifiers included, as control.key down/up. The wheel turns into whole notches.

/** The fields of a KeyboardEvent these functions read (a plain object in tests).
 * @typedef {Pick<KeyboardEvent, "key" | "code" | "ctrlKey" | "altKey" | "shiftKey" | "metaKey">
 *   & Partial<Pick<KeyboardEvent, "getModifierState" | "isComposing" | "repeat">>} KeyLike */
/** @typedef {{ action: "down" | "up", key: string, code: string, modifiers: string[] }} ControlKeyBody */
/** @typedef {["control.text", { text: string }] | ["control.key", ControlKeyBody]} KeyMessage */
/** @typedef {Pick<WheelEvent, "deltaX" | "deltaY" | "deltaMode">} WheelLike */
/** @typedef {{ dx: number, dy: number }} Notches */

// One wheel notch, in px (DOM_DELTA_PIXEL); lines and pages are converted first.
const WHEEL_NOTCH_PX = 100;
const WHEEL_LINE_PX = 100 / 3;
const WHEEL_PAGE_PX = 800;
const NOT_A_KEY = new Set(["Dead", "Unidentified", "Process", "Compose"]);

/** The modifiers held, as control.key names (AltGr is not Ctrl+Alt).
 * @param {KeyLike} event @returns {string[]} */
export function modifiersOf(event) {
  const altGraph = event.getModifierState?.("AltGraph") ?? false;
  return /** @type {[string, boolean][]} */ ([
    ["ctrl", event.ctrlKey && !altGraph],
    ["alt", event.altKey && !altGraph],
    ["shift", event.shiftKey],
    ["meta", event.metaKey],
  ]).filter(([, on]) => on).map(([name]) => name);
}

/** A key that types one character (AltGr and Shift allowed; Ctrl, Alt and Meta make it a shortcut).
 * @param {KeyLike} event @returns {boolean} */
export function isTextKey(event) {
  const key = event.key ?? "";
  if ([...key].length !== 1 || /** @type {number} */ (key.codePointAt(0)) < 32 || key === "\u007f") return false;
  const altGraph = event.getModifierState?.("AltGraph") ?? false;
  return altGraph || !(event.ctrlKey || event.altKey || event.metaKey);
}

/** The control event for a keydown/keyup (`down` true/false), or null when none is due.
 * @param {KeyLike} event @param {boolean} down @returns {KeyMessage | null} */
export function keyEvent(event, down) {
  if (event.isComposing || NOT_A_KEY.has(event.key)) return null;
  if (isTextKey(event)) return down ? ["control.text", { text: event.key }] : null;
  return ["control.key", { action: down ? "down" : "up", key: event.key, code: event.code,
                           modifiers: modifiersOf(event) }];
}

/** Turns wheel deltas into whole notches (dx, dy), keeping the remainder for the next event. */
export class WheelNotches {
  constructor() {
    this.x = 0;
    this.y = 0;
  }

  /** @param {WheelLike} event @returns {Notches} */
  add(event) {
    const unit = event.deltaMode === 1 ? WHEEL_LINE_PX : event.deltaMode === 2 ? WHEEL_PAGE_PX : 1;
    this.x += event.deltaX * unit;
    this.y += event.deltaY * unit;
    const dx = Math.trunc(this.x / WHEEL_NOTCH_PX);
    const dy = Math.trunc(this.y / WHEEL_NOTCH_PX);
    this.x -= dx * WHEEL_NOTCH_PX;
    this.y -= dy * WHEEL_NOTCH_PX;
    return { dx, dy };
  }
}
