// @ts-check
// Control mode: whether the technician's mouse and keys go to the customer's computer, and the
// input held there meanwhile. It turns on only while the customer grants control and the link is
// live; keys become control.key/control.text (keys.js), the wheel whole notches for the control
// tool (control.js); every key it pressed is released when the mode ends, the focus leaves, or
// the view goes, so nothing stays held on the customer's side.

import { isTextKey, keyEvent, WheelNotches } from "./keys.js";

/** @typedef {import("./transform.js").Point} Point */
/** @typedef {import("./control.js").ControlTool} ControlTool */
/** @typedef {import("./keys.js").ControlKeyBody} ControlKeyBody */
/** @typedef {import("./keys.js").KeyLike} KeyLike */
/** @typedef {import("./keys.js").WheelLike} WheelLike */
/** What control mode reads of a keyboard event (a plain object in tests).
 * @typedef {KeyLike & Pick<KeyboardEvent, "preventDefault" | "stopPropagation">} ControlKeyEvent */
/** What control mode reads of a wheel event.
 * @typedef {WheelLike & Pick<WheelEvent, "clientX" | "clientY" | "preventDefault">} ControlWheelEvent */
/**
 * What control mode needs from the view.
 * @typedef {object} ControlModeHost
 * @property {ControlTool} tool the control tool (the customer's mouse)
 * @property {() => boolean} allowed whether control may be on: granted by the customer, link live
 * @property {(name: string, body: Record<string, unknown>) => boolean} send an event to the agent
 * @property {(clientX: number, clientY: number) => Point} toStream client px → stream px
 * @property {(on: boolean) => void} switching called as the mode changes, before held input is released
 */

/** Whether control is on, and the keys it holds on the customer's side. */
export class ControlMode {
  /** @param {ControlModeHost} host */
  constructor(host) {
    this.host = host;
    this.on = false;
    /** @type {Map<string, ControlKeyBody>} code -> the control.key "down" body sent for it */
    this.heldKeys = new Map();
    this.notches = new WheelNotches();
  }

  /** Turn control on or off; on only while host.allowed(). Returns whether the mode changed.
   * @param {boolean} on @returns {boolean} */
  set(on) {
    const wanted = Boolean(on) && this.host.allowed();
    if (wanted === this.on) return false;
    this.host.switching(wanted);
    if (!wanted) this.release();
    this.on = wanted;
    return true;
  }

  /** A keydown (`down`) or keyup while control is on: the customer's, not the page's. Returns
   * whether the key was taken (false while control is off).
   * @param {ControlKeyEvent} event @param {boolean} down @returns {boolean} */
  key(event, down) {
    if (!this.on) return false;
    event.preventDefault();
    event.stopPropagation();
    if (down && event.repeat && !isTextKey(event)) return true; // the customer's system repeats a held key itself
    const message = keyEvent(event, down);
    if (!message) return true;
    if (message[0] === "control.key") {
      const body = message[1];
      const id = event.code || event.key;
      if (down) this.heldKeys.set(id, body);
      else if (!this.heldKeys.delete(id)) return true; // pressed before control was on: not ours to release
    }
    this.host.send(message[0], message[1]);
    return true;
  }

  /** A wheel turn over the view: the customer's while control is on (else it scrolls the view).
   * @param {ControlWheelEvent} event */
  wheel(event) {
    if (!this.on) return;
    event.preventDefault();
    const point = this.host.toStream(event.clientX, event.clientY);
    this.host.tool.wheel(event, point, this.notches.add(event));
  }

  /** The context menu is not shown while control is on: the right button is the customer's.
   * @param {Pick<Event, "preventDefault">} event */
  contextMenu(event) {
    if (this.on) event.preventDefault();
  }

  /** Let go of every key and button held on the customer's side (focus lost, control off, view gone). */
  release() {
    for (const body of this.heldKeys.values()) this.host.send("control.key", { ...body, action: "up" });
    this.heldKeys.clear();
    this.host.tool.releaseAll();
  }
}
