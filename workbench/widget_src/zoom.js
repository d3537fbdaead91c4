// @ts-check
// Zoom: the choices the view offers and the size the picture takes for each, in the room there
// is (the cell's width and the window's height, a pop-out panel, the full screen). Pure.

/** @typedef {"fit" | "readable" | "width" | "1:1" | number} Zoom */
/** @typedef {{ width: number, height: number }} Size */

/** Below this share of the customer's own pixels (at 1:1), terminal text stops being readable. */
export const READABLE_SCALE = 0.75;

/** The zoom picker's [value, label, tooltip] choices, in order.
 * @type {readonly [string, string, string][]} */
export const ZOOM_CHOICES = Object.freeze([
  ["fit", "Fit to window", "The whole screen, as large as the room allows"],
  ["readable", "Fit, text readable", `Fit to window, but never below ${READABLE_SCALE * 100} %: drag or scroll to pan`],
  ["width", "Fit to width", "As wide as the cell; scroll the page for the rest"],
  ["0.5", "50 %", "Half the customer's pixels; drag or scroll to pan"],
  ["0.75", "75 %", "Three quarters of the customer's pixels; drag or scroll to pan"],
  ["1:1", "1:1 (100 %)", "One screen pixel per device pixel; drag or scroll to pan"],
  ["1.5", "150 %", "Enlarged; drag or scroll to pan"],
  ["2", "200 %", "Enlarged twice; drag or scroll to pan"],
]);

/** The picker's value for a zoom (the model holds numbers; the picker strings).
 * @param {Zoom} zoom @returns {string} */
export function zoomValue(zoom) {
  return String(zoom);
}

/** The zoom a picker value stands for.
 * @param {string} value @returns {Zoom} */
export function zoomFromValue(value) {
  if (value === "fit" || value === "readable" || value === "width" || value === "1:1") return value;
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? number : "fit";
}

/** Whether the picture may be larger than its box (then the box scrolls, and dragging pans).
 * @param {Zoom} zoom @returns {boolean} */
export function isPannable(zoom) {
  return zoom !== "fit" && zoom !== "width";
}

/** The CSS size of the picture of a `stream` (its pixels) for `zoom`, in a `room` (CSS px)
 * on a display of `dpr` device px per CSS px. "fit" keeps the whole screen in the room (larger
 * than 1:1 if the room is), "readable" too but never below READABLE_SCALE of 1:1, "width" takes
 * the room's width whatever the height; a number is a share of 1:1 ("1:1" is 1).
 * @param {Size} stream @param {Size} room @param {Zoom} zoom @param {number} dpr @returns {Size} */
export function pictureSize(stream, room, zoom, dpr) {
  if (!stream.width || !stream.height) return { width: 0, height: 0 };
  const oneToOne = 1 / (dpr || 1); // CSS px per stream px at 1:1
  const fit = Math.min(room.width / stream.width, room.height / stream.height);
  /** @type {number} */
  let scale;
  if (zoom === "fit") scale = fit;
  else if (zoom === "readable") scale = Math.max(fit, READABLE_SCALE * oneToOne);
  else if (zoom === "width") scale = room.width / stream.width;
  else if (zoom === "1:1") scale = oneToOne;
  else scale = zoom * oneToOne;
  scale = Math.max(scale, 0.01);
  // Rounded down, so that a fitted picture never overflows its room by a fraction of a pixel.
  return { width: Math.max(1, Math.floor(stream.width * scale)), height: Math.max(1, Math.floor(stream.height * scale)) };
}
