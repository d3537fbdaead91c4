// @ts-check
// The view's keyboard shortcuts outside control mode (pure).

import { PALETTE, TOOL_KEYS } from "./marks.js";

/** @typedef {Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "shiftKey">} ShortcutKey */

/** The view's action for a key outside control mode: "tool:<name>", "colour:<index>", "undo",
 * "clear", or null (P pen, A arrow, R rectangle, E ellipse, H highlighter, T text, L laser,
 * X eraser, V view; 1…6 colours; Backspace or Ctrl/⌘+Z undo; Shift+C clear).
 * @param {Partial<ShortcutKey>} event @returns {string | null} */
export function shortcutFor(event) {
  const key = event.key ?? "";
  const lower = key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && lower === "z") return "undo";
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  if (key === "Backspace") return "undo";
  if (event.shiftKey) return lower === "c" ? "clear" : null;
  if (TOOL_KEYS[lower]) return `tool:${TOOL_KEYS[lower]}`;
  if (/^[1-9]$/.test(key) && Number(key) <= PALETTE.length) return `colour:${Number(key) - 1}`;
  return null;
}
