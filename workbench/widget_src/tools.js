// @ts-check
// The annotation tools and the pan tool, as pointer tools (pointer.js): each turns pointer
// events in stream px into previews and marks through its `host` (the view).

import { MAX_LASER_POINTS, MAX_STROKE_POINTS } from "./marks.js";

/** @typedef {import("./transform.js").Point} Point */
/** @typedef {import("./pointer.js").Tool} Tool */
/** @typedef {import("./marks.js").Stroke} Stroke */
/** @typedef {import("./marks.js").MarkTool} MarkTool */
/**
 * What the tools need of the view. Points are stream px.
 * @typedef {object} ToolHost
 * @property {(point: Point) => boolean} contains whether the point is on the picture
 * @property {(point: Point) => Point} clamp the nearest point on the picture
 * @property {(event: PointerEvent) => void} capture take pointer capture
 * @property {(event: PointerEvent) => void} release let it go
 * @property {(tool: MarkTool) => { colour: string, width: number }} style
 * @property {() => string} newId a new mark id
 * @property {(stroke: Stroke) => void} draft (re)draw the preview
 * @property {(id: string) => void} discard drop the preview
 * @property {(stroke: Stroke) => void} finish send the mark
 * @property {(stroke: Stroke) => void} laser send a laser segment
 * @property {(point: Point) => void} openText ask for a label's words
 * @property {(point: Point) => void} eraseAt remove the mark there
 * @property {(name: string, body: Record<string, unknown>) => unknown} send send an event to the agent
 * @property {(point: Point) => Point} toDesktop stream px → desktop px
 */

const LASER_SEND_INTERVAL_MS = 100;
const LASER_TRAIL_MS = 300;
// Pen points closer than this (stream px) add nothing.
const MIN_POINT_DISTANCE = 2;
// Shorter drags of the two-point tools are taken as a slip, not a mark.
const MIN_SHAPE_SIZE = 3;

/** Drag to pan a scrolled viewport (1:1 zoom); the wheel scrolls natively.
 * @param {HTMLElement} viewport @param {() => boolean} isActive @returns {Tool} */
export function createPanTool(viewport, isActive) {
  /** @type {{ x: number, y: number, left: number, top: number } | null} */
  let drag = null;
  return {
    name: "pan",
    down(event) {
      if (!isActive() || event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, left: viewport.scrollLeft, top: viewport.scrollTop };
      viewport.setPointerCapture?.(event.pointerId);
      viewport.classList.add("wb-screen-panning");
      event.preventDefault();
    },
    move(event) {
      if (!drag) return;
      viewport.scrollLeft = drag.left - (event.clientX - drag.x);
      viewport.scrollTop = drag.top - (event.clientY - drag.y);
    },
    up(event) {
      if (!drag) return;
      drag = null;
      viewport.releasePointerCapture?.(event.pointerId);
      viewport.classList.remove("wb-screen-panning");
    },
    cancel() {
      drag = null;
      viewport.classList.remove("wb-screen-panning");
    },
  };
}

// The tools below get a `host` (the view) for what they need: contains(point) and clamp(point) in
// stream px, capture(event) / release(event) for pointer capture, and their own callbacks.

/** Drag to draw: pen and highlighter strokes follow the pointer; arrow, rectangle and ellipse go
 * from where the drag starts to where it ends. host: style(tool) → {colour, width}, newId(),
 * draft(stroke) (redraw the preview), discard(id), finish(stroke). Points are stream px.
 * @param {"pen" | "arrow" | "rect" | "ellipse" | "highlighter"} tool
 * @param {ToolHost} host
 * @returns {Tool} */
export function createDrawTool(tool, host) {
  const twoPoints = tool === "arrow" || tool === "rect" || tool === "ellipse";
  /** @type {Stroke | null} */
  let stroke = null;
  /** @param {Point} point @returns {Stroke} */
  const begin = (point) => ({ id: host.newId(), tool, ...host.style(tool), points: twoPoints ? [point, point] : [point] });
  /** @param {Point} point */
  const move = (point) => {
    if (!stroke) return;
    const at = host.clamp(point);
    const { points } = stroke;
    if (twoPoints) {
      points[1] = at;
    } else {
      const last = points[points.length - 1];
      if (Math.hypot(at.x - last.x, at.y - last.y) < MIN_POINT_DISTANCE) return;
      points.push(at);
      if (points.length >= MAX_STROKE_POINTS) {
        host.finish(stroke); // a very long stroke goes as several marks
        stroke = begin(at);
      }
    }
    host.draft(stroke);
  };
  return {
    name: tool,
    down(event, point) {
      if (event.button !== 0 || !host.contains(point)) return;
      event.preventDefault();
      host.capture(event);
      stroke = begin(point);
      host.draft(stroke);
    },
    move(event, point) {
      move(point);
    },
    up(event, point) {
      if (!stroke) return;
      move(point);
      host.release(event);
      const done = stroke;
      stroke = null;
      const [a, b] = done.points;
      if (twoPoints && Math.hypot(b.x - a.x, b.y - a.y) < MIN_SHAPE_SIZE) host.discard(done.id);
      else host.finish(done);
    },
    cancel() {
      if (stroke) host.discard(stroke.id);
      stroke = null;
    },
  };
}

/** Press and move to point: the recent trail goes out as a short-lived laser mark every
 * LASER_SEND_INTERVAL_MS (the agent fades each one). host: style, newId, laser(stroke).
 * @param {ToolHost} host @param {() => number} [now] @returns {Tool} */
export function createLaserTool(host, now = () => performance.now()) {
  /** @type {(Point & { t: number })[] | null} */
  let trail = null;
  let sentAt = -Infinity;
  /** @param {(Point & { t: number })[]} trailNow */
  const send = (trailNow) => {
    const t = now();
    const recent = trailNow.filter((p) => t - p.t <= LASER_TRAIL_MS).slice(-MAX_LASER_POINTS);
    const points = (recent.length ? recent : [trailNow[trailNow.length - 1]]).map(({ x, y }) => ({ x, y }));
    trail = trailNow.slice(-MAX_LASER_POINTS);
    host.laser({ id: host.newId(), tool: "laser", ...host.style("laser"), points });
    sentAt = t;
  };
  return {
    name: "laser",
    down(event, point) {
      if (event.button !== 0 || !host.contains(point)) return;
      event.preventDefault();
      host.capture(event);
      trail = [{ ...point, t: now() }];
      send(trail);
    },
    move(event, point) {
      if (!trail) return;
      trail.push({ ...host.clamp(point), t: now() });
      if (now() - sentAt >= LASER_SEND_INTERVAL_MS) send(trail);
    },
    up(event, point) {
      if (!trail) return;
      trail.push({ ...host.clamp(point), t: now() });
      send(trail);
      host.release(event);
      trail = null;
    },
    cancel() {
      trail = null;
    },
  };
}

/** Click to place a text label there (host.openText(point) asks for the words).
 * @param {ToolHost} host @returns {Tool} */
export function createTextTool(host) {
  return {
    name: "text",
    down(event, point) {
      if (event.button !== 0 || !host.contains(point)) return;
      event.preventDefault();
      host.openText(point);
    },
  };
}

/** Click on a mark to remove it (host.eraseAt(point)).
 * @param {ToolHost} host @returns {Tool} */
export function createEraserTool(host) {
  return {
    name: "eraser",
    down(event, point) {
      if (event.button !== 0 || !host.contains(point)) return;
      event.preventDefault();
      host.eraseAt(point);
    },
  };
}
