// @ts-check
// Annotation marks, pure: the palette and tools, the wire form in desktop px, the SVG shapes of a
// preview (same geometry as the agent's renderer), and the hit test behind the eraser and undo.
//
// Marks travel in the customer's desktop px (docs/control-protocol.md) and are drawn on the
// customer's screen by the agent's overlay, which the stream then shows: the view never keeps a
// copy of a finished mark (it would show twice). It only previews a mark while it is drawn, and
// until a frame captured after the agent drew it has been drawn here (screen.marks `shown_at`).

/** @typedef {import("./transform.js").Point} Point */
/** @typedef {"pen" | "arrow" | "rect" | "ellipse" | "highlighter" | "text" | "laser"} MarkTool */
/** @typedef {MarkTool | "view" | "eraser"} ToolName */
/**
 * A mark being drawn, in stream px (a preview's own units).
 * @typedef {object} Stroke
 * @property {string} id
 * @property {MarkTool} tool
 * @property {string} colour "#rrggbb"
 * @property {number} width
 * @property {Point[]} points
 * @property {string} [text] the "text" tool's words
 */
/**
 * A mark as it travels (annotate.mark, screen.marks): desktop px, whole pixels.
 * @typedef {object} WireMark
 * @property {string} id
 * @property {string} tool
 * @property {[number, number][]} points
 * @property {string} [colour]
 * @property {number} width
 * @property {string} [text]
 */
/** What markShapes draws: either form, points as {x, y} or [x, y].
 * @typedef {{ tool: string, colour?: string, width: number, points: (Point | [number, number])[], text?: string }} ShapeSource */
/** An SVG element as data: [tag, attributes, text?].
 * @typedef {[tag: string, attributes: Record<string, string | number>, text?: string]} Shape */
/** @typedef {(x: number, y: number) => Point} ToDesktop */

/** The palette, [name, colour]; keys 1…6 pick them. Names match the agent's words to the customer.
 * @type {readonly [name: string, colour: string][]} */
export const PALETTE = [
  ["red", "#e53935"], ["yellow", "#fdd835"], ["green", "#43a047"], ["blue", "#1e88e5"],
  ["black", "#000000"], ["white", "#ffffff"],
];
/** Stroke width per tool, desktop px (agent/annotate/model.py's defaults).
 * @type {Readonly<Record<MarkTool, number>>} */
export const DEFAULT_WIDTHS = { pen: 4, arrow: 4, rect: 4, ellipse: 4, highlighter: 18, text: 5, laser: 6 };
/** Tools by shortcut key (no modifier). "view" pans at 1:1; "eraser" removes the mark clicked.
 * @type {Readonly<Record<string, ToolName>>} */
export const TOOL_KEYS = {
  v: "view", p: "pen", a: "arrow", r: "rect", e: "ellipse", h: "highlighter", t: "text", l: "laser", x: "eraser",
};
/** @type {Readonly<Record<ToolName, string>>} */
export const TOOL_LABELS = {
  view: "View", pen: "Pen", arrow: "Arrow", rect: "Rectangle", ellipse: "Ellipse", highlighter: "Highlighter",
  text: "Text", laser: "Laser", eraser: "Eraser",
};
// The agent's limits and conventions (agent/annotate/model.py, render.py).
export const MAX_STROKE_POINTS = 2000;
export const MAX_LASER_POINTS = 64;
export const MAX_TEXT_LENGTH = 200;
const TEXT_SIZE_PER_WIDTH = 4;

/** The desktop pixel under a pointer at stream position (x, y) (pixel n spans [n, n + 1)).
 * @param {ToDesktop} toDesktop @param {number} x @param {number} y @returns {Point} */
export function desktopPixel(toDesktop, x, y) {
  const d = toDesktop(x, y);
  return { x: Math.floor(d.x), y: Math.floor(d.y) };
}

/** A stroke in stream px → the wire mark in desktop px (whole pixels).
 * @param {Stroke} stroke @param {ToDesktop} toDesktop @returns {WireMark} */
export function markMessage(stroke, toDesktop) {
  /** @type {WireMark} */
  const mark = {
    id: stroke.id,
    tool: stroke.tool,
    points: stroke.points.map((p) => {
      const d = desktopPixel(toDesktop, p.x, p.y);
      return /** @type {[number, number]} */ ([d.x, d.y]);
    }),
    colour: stroke.colour,
    width: stroke.width,
  };
  if (stroke.tool === "text") mark.text = stroke.text;
  return mark;
}

/** A text label's font size for a stroke width (agent/annotate/model.py).
 * @param {number} width @returns {number} */
export function textSize(width) {
  return Math.max(12, Math.min(96, TEXT_SIZE_PER_WIDTH * width));
}

/** Black or white, whichever reads better on `colour` ("#rrggbb").
 * @param {string} colour @returns {string} */
export function inkFor(colour) {
  const value = parseInt(colour.slice(1), 16);
  const luminance = 0.299 * (value >> 16) + 0.587 * ((value >> 8) & 255) + 0.114 * (value & 255);
  return luminance > 150 ? "#000000" : "#ffffff";
}

/** How a mark looks, as SVG [tag, attributes, text?] triples in the mark's own units (pure, so
 * it is testable without a DOM). Same geometry as the agent's renderer, so a preview sits where
 * the real mark will.
 * @param {ShapeSource} mark @returns {Shape[]} */
export function markShapes(mark) {
  const { tool, width } = mark;
  const colour = /** @type {string} */ (mark.colour);
  const pts = mark.points.map((p) => (Array.isArray(p) ? { x: p[0], y: p[1] } : p));
  const line = { fill: "none", stroke: colour, "stroke-width": width, "stroke-linecap": "round",
                 "stroke-linejoin": "round" };
  /** @param {Point[]} points */
  const list = (points) => points.map((p) => `${p.x},${p.y}`).join(" ");
  switch (tool) {
    case "pen":
    case "highlighter":
      return [["polyline", { ...line, points: list(pts.length > 1 ? pts : [pts[0], pts[0]]),
                             ...(tool === "highlighter" ? { opacity: 0.5 } : {}) }]];
    case "laser": {
      const last = /** @type {Point} */ (pts.at(-1));
      return [
        ["polyline", { ...line, "stroke-width": Math.max(2, width >> 1), points: list(pts) }],
        ["circle", { cx: last.x, cy: last.y, r: width + 3, fill: colour }],
      ];
    }
    case "arrow": {
      const [tail, tip] = pts;
      const length = Math.hypot(tip.x - tail.x, tip.y - tail.y);
      if (length < 1) return [["circle", { cx: tip.x, cy: tip.y, r: width, fill: colour }]];
      const ux = (tip.x - tail.x) / length;
      const uy = (tip.y - tail.y) / length;
      const head = Math.min(length, 3 * width + 10);
      const half = 1.5 * width + 5;
      const bx = tip.x - ux * head;
      const by = tip.y - uy * head;
      return [
        ["line", { x1: tail.x, y1: tail.y, x2: bx, y2: by, stroke: colour, "stroke-width": width }],
        ["polygon", { points: list([tip, { x: bx - uy * half, y: by + ux * half }, { x: bx + uy * half, y: by - ux * half }]),
                      fill: colour }],
      ];
    }
    case "rect":
    case "ellipse": {
      // The agent draws the outline inside the box; an SVG stroke is centred on the path.
      const [a, b] = pts;
      const x = Math.min(a.x, b.x) + width / 2;
      const y = Math.min(a.y, b.y) + width / 2;
      const w = Math.max(0, Math.abs(a.x - b.x) - width);
      const h = Math.max(0, Math.abs(a.y - b.y) - width);
      const outline = { fill: "none", stroke: colour, "stroke-width": width };
      return tool === "rect"
        ? [["rect", { ...outline, x, y, width: w, height: h }]]
        : [["ellipse", { ...outline, cx: x + w / 2, cy: y + h / 2, rx: w / 2, ry: h / 2 }]];
    }
    case "text": {
      const size = textSize(width);
      const pad = Math.max(3, Math.floor(size / 4));
      const { x, y } = pts[0];
      const text = mark.text ?? "";
      return [
        ["rect", { x, y, width: 0.62 * size * text.length + 2 * pad, height: 1.2 * size + 2 * pad, fill: colour }],
        ["text", { x: x + pad, y: y + pad + 0.95 * size, fill: inkFor(colour), "font-size": size,
                   "font-weight": "bold", "font-family": "DejaVu Sans, Verdana, sans-serif" }, text],
      ];
    }
    default:
      return [];
  }
}

/** @param {number} x @param {number} y @param {Point} a @param {Point} b @returns {number} */
function distanceToSegment(x, y, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const t = dx || dy ? Math.max(0, Math.min(1, ((x - a.x) * dx + (y - a.y) * dy) / (dx * dx + dy * dy))) : 0;
  return Math.hypot(x - (a.x + t * dx), y - (a.y + t * dy));
}

/** How far (desktop px) a wire mark's drawing is from (x, y); 0 inside a text label.
 * @param {WireMark} mark @param {number} x @param {number} y @returns {number} */
export function markDistance(mark, x, y) {
  const pts = mark.points.map(([px, py]) => ({ x: px, y: py }));
  /** @param {Point[]} points */
  const polyline = (points) =>
    points.length === 1 ? Math.hypot(x - points[0].x, y - points[0].y)
      : Math.min(...points.slice(1).map((p, i) => distanceToSegment(x, y, points[i], p)));
  switch (mark.tool) {
    case "rect": {
      const [a, b] = pts;
      const corners = [a, { x: b.x, y: a.y }, b, { x: a.x, y: b.y }, a];
      return polyline(corners);
    }
    case "ellipse": {
      const [a, b] = pts;
      const cx = (a.x + b.x) / 2;
      const cy = (a.y + b.y) / 2;
      const rx = Math.max(1, Math.abs(a.x - b.x) / 2);
      const ry = Math.max(1, Math.abs(a.y - b.y) / 2);
      const r = Math.hypot((x - cx) / rx, (y - cy) / ry);
      return Math.abs(r - 1) * Math.min(rx, ry);
    }
    case "text": {
      const size = textSize(mark.width);
      const pad = Math.max(3, Math.floor(size / 4));
      const [{ x: left, y: top }] = pts;
      const right = left + 0.62 * size * (mark.text ?? "").length + 2 * pad;
      const bottom = top + 1.2 * size + 2 * pad;
      return Math.hypot(Math.max(left - x, 0, x - right), Math.max(top - y, 0, y - bottom));
    }
    default:
      return polyline(pts);
  }
}

/** The newest mark (not a laser) drawn within reach of (x, y), desktop px; null if none.
 * @param {readonly WireMark[]} marks @param {number} x @param {number} y @param {number} [reach]
 * @returns {WireMark | null} */
export function markAt(marks, x, y, reach = 8) {
  for (const mark of [...marks].reverse()) {
    if (mark.tool !== "laser" && markDistance(mark, x, y) <= reach + mark.width / 2) return mark;
  }
  return null;
}

/** What undo removes: the newest mark this view drew that is still on screen, else the newest one.
 * @param {readonly WireMark[]} marks @param {readonly string[]} ownIds @returns {string | null} */
export function markToUndo(marks, ownIds) {
  const shown = marks.filter((mark) => mark.tool !== "laser");
  const ids = new Set(shown.map((mark) => mark.id));
  const own = [...ownIds].reverse().find((id) => ids.has(id));
  return own ?? shown.at(-1)?.id ?? null;
}

/** A mark from screen.marks the view can use (hit test, undo); anything else is ignored.
 * @param {unknown} mark @returns {mark is WireMark} */
export function isWireMark(mark) {
  if (mark === null || typeof mark !== "object") return false;
  const m = /** @type {Record<string, unknown>} */ (mark);
  return typeof m.id === "string" && typeof m.tool === "string"
    && Number.isFinite(m.width) && Array.isArray(m.points) && m.points.length > 0
    && m.points.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite));
}
