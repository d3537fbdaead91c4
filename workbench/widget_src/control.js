// @ts-check
// The customer's mouse, from the picture: the control tool turns pointer events and wheel
// notches into control.pointer events in desktop px (docs/control-protocol.md). Keys are in
// keys.js.

import { desktopPixel } from "./marks.js";

/** @typedef {import("./transform.js").Point} Point */
/** @typedef {import("./pointer.js").Tool} Tool */
/** @typedef {import("./keys.js").Notches} Notches */
/** @typedef {Pick<import("./tools.js").ToolHost, "contains" | "clamp" | "capture" | "release" | "send" | "toDesktop">} ControlHost */
/**
 * @typedef {Tool & {
 *   wheel: (event: unknown, point: Point, notches: Notches) => void,
 *   releaseAll: () => void,
 * }} ControlTool
 */

/** @type {Readonly<Record<number, number>>} */
const DOM_TO_CONTROL_BUTTON = { 0: 1, 1: 2, 2: 3 }; // left, middle, right
/** @type {Readonly<Record<number, number>>} */
const DOM_BUTTON_BIT = { 0: 1, 1: 4, 2: 2 }; // MouseEvent.buttons

/** The control.pointer button (1 left, 2 middle, 3 right) for a DOM button, or null.
 * @param {number} domButton @returns {number | null} */
export function controlButton(domButton) {
  return DOM_TO_CONTROL_BUTTON[domButton] ?? null;
}

/** The customer's mouse, from the canvas: control.pointer in desktop px. Moves are coalesced to
 * one per animation frame (the newest wins); a press or release sends the pending move first.
 * host: send(name, body), toDesktop(point). releaseAll() lets go of every held button.
 * @param {ControlHost} host @returns {ControlTool} */
export function createControlTool(host) {
  /** @type {Record<string, unknown> | null} */
  let pending = null;
  let frame = 0;
  /** @type {Point | null} */
  let last = null;
  /** @type {Set<number>} */
  const held = new Set();
  /** @param {Point} point @returns {Point} */
  const at = (point) => {
    const clamped = host.clamp(point);
    last = desktopPixel((x, y) => host.toDesktop({ x, y }), clamped.x, clamped.y);
    return last;
  };
  const flush = () => {
    if (frame) cancelAnimationFrame(frame);
    frame = 0;
    if (pending) host.send("control.pointer", pending);
    pending = null;
  };
  /** @param {number} domButton @param {Point} point @param {boolean} down */
  const press = (domButton, point, down) => {
    const button = controlButton(domButton);
    if (button === null || held.has(button) === down) return;
    flush();
    if (down) held.add(button);
    else held.delete(button);
    host.send("control.pointer", { ...at(point), action: down ? "down" : "up", button });
  };
  const releaseAll = () => {
    flush();
    for (const button of [...held]) {
      held.delete(button);
      if (last) host.send("control.pointer", { ...last, action: "up", button });
    }
  };
  return {
    name: "control",
    down(event, point) {
      if (!host.contains(point)) return;
      event.preventDefault();
      host.capture(event);
      press(event.button, point, true);
    },
    move(event, point) {
      if (event.button >= 0) {
        // Another button pressed or released while one is held (a chord): no pointerdown/up for it.
        press(event.button, point, (event.buttons & (DOM_BUTTON_BIT[event.button] ?? 0)) !== 0);
        return;
      }
      if (!held.size && !host.contains(point)) return;
      pending = { ...at(point), action: "move" };
      if (!frame) frame = requestAnimationFrame(() => {
        frame = 0;
        flush();
      });
    },
    up(event, point) {
      press(event.button, point, false);
      if (!held.size) host.release(event);
    },
    /** A wheel turn over the picture, in notches. */
    wheel(event, point, notches) {
      if (!host.contains(point) || (!notches.dx && !notches.dy)) return;
      flush();
      host.send("control.pointer", { ...at(point), action: "wheel", dx: notches.dx, dy: notches.dy });
    },
    releaseAll,
    cancel() {
      releaseAll();
    },
  };
}
