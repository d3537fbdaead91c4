// Generated from workbench/widget_src/ by esbuild (npm run build): do not edit by hand.

// workbench/widget_src/dom.js
var SVG_NS = "http://www.w3.org/2000/svg";
function element(tag, className, props = {}) {
  return Object.assign(document.createElement(tag), { className, ...props });
}
function svgElement(tag, attributes = {}, text = null) {
  const node = (
    /** @type {SVGElement} */
    document.createElementNS(SVG_NS, tag)
  );
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

// workbench/widget_src/marks.js
var PALETTE = [
  ["red", "#e53935"],
  ["yellow", "#fdd835"],
  ["green", "#43a047"],
  ["blue", "#1e88e5"],
  ["black", "#000000"],
  ["white", "#ffffff"]
];
var DEFAULT_WIDTHS = { pen: 4, arrow: 4, rect: 4, ellipse: 4, highlighter: 18, text: 5, laser: 6 };
var TOOL_KEYS = {
  v: "view",
  p: "pen",
  a: "arrow",
  r: "rect",
  e: "ellipse",
  h: "highlighter",
  t: "text",
  l: "laser",
  x: "eraser"
};
var TOOL_LABELS = {
  view: "View",
  pen: "Pen",
  arrow: "Arrow",
  rect: "Rectangle",
  ellipse: "Ellipse",
  highlighter: "Highlighter",
  text: "Text",
  laser: "Laser",
  eraser: "Eraser"
};
var MAX_STROKE_POINTS = 2e3;
var MAX_LASER_POINTS = 64;
var MAX_TEXT_LENGTH = 200;
var TEXT_SIZE_PER_WIDTH = 4;
function desktopPixel(toDesktop, x, y) {
  const d = toDesktop(x, y);
  return { x: Math.floor(d.x), y: Math.floor(d.y) };
}
function markMessage(stroke, toDesktop) {
  const mark = {
    id: stroke.id,
    tool: stroke.tool,
    points: stroke.points.map((p) => {
      const d = desktopPixel(toDesktop, p.x, p.y);
      return (
        /** @type {[number, number]} */
        [d.x, d.y]
      );
    }),
    colour: stroke.colour,
    width: stroke.width
  };
  if (stroke.tool === "text") mark.text = stroke.text;
  return mark;
}
function textSize(width) {
  return Math.max(12, Math.min(96, TEXT_SIZE_PER_WIDTH * width));
}
function inkFor(colour) {
  const value = parseInt(colour.slice(1), 16);
  const luminance = 0.299 * (value >> 16) + 0.587 * (value >> 8 & 255) + 0.114 * (value & 255);
  return luminance > 150 ? "#000000" : "#ffffff";
}
function markShapes(mark) {
  const { tool, width } = mark;
  const colour = (
    /** @type {string} */
    mark.colour
  );
  const pts = mark.points.map((p) => Array.isArray(p) ? { x: p[0], y: p[1] } : p);
  const line = {
    fill: "none",
    stroke: colour,
    "stroke-width": width,
    "stroke-linecap": "round",
    "stroke-linejoin": "round"
  };
  const list = (points) => points.map((p) => `${p.x},${p.y}`).join(" ");
  switch (tool) {
    case "pen":
    case "highlighter":
      return [["polyline", {
        ...line,
        points: list(pts.length > 1 ? pts : [pts[0], pts[0]]),
        ...tool === "highlighter" ? { opacity: 0.5 } : {}
      }]];
    case "laser": {
      const last = (
        /** @type {Point} */
        pts.at(-1)
      );
      return [
        ["polyline", { ...line, "stroke-width": Math.max(2, width >> 1), points: list(pts) }],
        ["circle", { cx: last.x, cy: last.y, r: width + 3, fill: colour }]
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
        ["polygon", {
          points: list([tip, { x: bx - uy * half, y: by + ux * half }, { x: bx + uy * half, y: by - ux * half }]),
          fill: colour
        }]
      ];
    }
    case "rect":
    case "ellipse": {
      const [a, b] = pts;
      const x = Math.min(a.x, b.x) + width / 2;
      const y = Math.min(a.y, b.y) + width / 2;
      const w = Math.max(0, Math.abs(a.x - b.x) - width);
      const h = Math.max(0, Math.abs(a.y - b.y) - width);
      const outline = { fill: "none", stroke: colour, "stroke-width": width };
      return tool === "rect" ? [["rect", { ...outline, x, y, width: w, height: h }]] : [["ellipse", { ...outline, cx: x + w / 2, cy: y + h / 2, rx: w / 2, ry: h / 2 }]];
    }
    case "text": {
      const size = textSize(width);
      const pad = Math.max(3, Math.floor(size / 4));
      const { x, y } = pts[0];
      const text = mark.text ?? "";
      return [
        ["rect", { x, y, width: 0.62 * size * text.length + 2 * pad, height: 1.2 * size + 2 * pad, fill: colour }],
        ["text", {
          x: x + pad,
          y: y + pad + 0.95 * size,
          fill: inkFor(colour),
          "font-size": size,
          "font-weight": "bold",
          "font-family": "DejaVu Sans, Verdana, sans-serif"
        }, text]
      ];
    }
    default:
      return [];
  }
}
function distanceToSegment(x, y, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const t = dx || dy ? Math.max(0, Math.min(1, ((x - a.x) * dx + (y - a.y) * dy) / (dx * dx + dy * dy))) : 0;
  return Math.hypot(x - (a.x + t * dx), y - (a.y + t * dy));
}
function markDistance(mark, x, y) {
  const pts = mark.points.map(([px, py]) => ({ x: px, y: py }));
  const polyline = (points) => points.length === 1 ? Math.hypot(x - points[0].x, y - points[0].y) : Math.min(...points.slice(1).map((p, i) => distanceToSegment(x, y, points[i], p)));
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
function markAt(marks, x, y, reach = 8) {
  for (const mark of [...marks].reverse()) {
    if (mark.tool !== "laser" && markDistance(mark, x, y) <= reach + mark.width / 2) return mark;
  }
  return null;
}
function markToUndo(marks, ownIds) {
  const shown = marks.filter((mark) => mark.tool !== "laser");
  const ids = new Set(shown.map((mark) => mark.id));
  const own = [...ownIds].reverse().find((id) => ids.has(id));
  return own ?? shown.at(-1)?.id ?? null;
}
function isWireMark(mark) {
  if (mark === null || typeof mark !== "object") return false;
  const m = (
    /** @type {Record<string, unknown>} */
    mark
  );
  return typeof m.id === "string" && typeof m.tool === "string" && Number.isFinite(m.width) && Array.isArray(m.points) && m.points.length > 0 && m.points.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite));
}

// workbench/widget_src/previews.js
var LASER_SECONDS = 1.5;
var PREVIEW_TIMEOUT_MS = 4e3;
var MarkPreviews = class {
  /** @param {SVGElement} svg @param {() => number} [now] */
  constructor(svg, now = () => performance.now()) {
    this.svg = svg;
    this.now = now;
    this.items = /* @__PURE__ */ new Map();
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
    const fade = node.animate?.([{ opacity: 1 }, { opacity: 0 }], { duration: LASER_SECONDS * 1e3, fill: "forwards" });
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
      if (!Number.isFinite(item.shownAt) || !Number.isFinite(capturedAt) || /** @type {number} */
      capturedAt >= /** @type {number} */
      item.shownAt) this.drop(id);
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
};

// workbench/widget_src/status.js
var CONTROL_GRACE_S = 2;
function formatRate(kbps) {
  return kbps >= 1e3 ? `${(kbps / 1e3).toFixed(1)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}
function monitorLabel(monitor) {
  const primary = monitor.primary ? ", primary" : "";
  return `Monitor ${monitor.index} (${monitor.width}×${monitor.height}${primary})`;
}
function clockTime(epochMs) {
  return new Date(epochMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}
function statusText(linkText, control, live, snapshot) {
  let text = linkText;
  if (control.customerActive) {
    const grace = control.graceS ?? CONTROL_GRACE_S;
    text = `The customer is using their computer: your input resumes ${grace} s after they stop · ${text}`;
  }
  if (live && snapshot && snapshot.fps === 0) {
    text += snapshot.lastChangeAt ? ` · idle, screen unchanged since ${clockTime(snapshot.lastChangeAt)}` : " · waiting for the first picture";
  } else if (live && snapshot) {
    const latency = snapshot.latencyMs === null ? "latency –" : `${snapshot.latencyKind === "rtt" ? "round trip" : "latency"} ${Math.round(snapshot.latencyMs)} ms`;
    text += ` · ${snapshot.fps.toFixed(1)} fps · ${latency} · ${formatRate(snapshot.kbps)}`;
  }
  return text;
}
function noticeText({ paused, hiddenCount, reason }) {
  const parts = [];
  if (paused) parts.push("The customer has paused the view: the picture is frozen until they resume.");
  if (hiddenCount > 0) {
    parts.push(
      `The customer has hidden ${hiddenCount === 1 ? "part" : `${hiddenCount} parts`} of their screen; those areas are not sent to you.`
    );
  }
  if (parts.length && reason) parts.push(`(${reason})`);
  return parts.join(" ");
}
function marksInfoText(count, overlayName) {
  let text = count ? `${count} mark${count === 1 ? "" : "s"} on the customer's screen` : "";
  if (overlayName === "none") text += `${text ? " " : ""}(not drawn on their screen: they are told in words)`;
  return text;
}

// workbench/widget_src/annotations.js
var MAX_OWN_IDS = 200;
var Annotations = class {
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
    this.marks = [];
    this.overlayName = null;
    this.ownIds = [];
    this.idPrefix = `w${Math.random().toString(36).slice(2, 8)}`;
    this.idCount = 0;
    this.textInput = null;
  }
  /** A mark id no other view uses. */
  newId() {
    return `${this.idPrefix}-${this.idCount += 1}`;
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
      type: "text",
      maxLength: MAX_TEXT_LENGTH,
      placeholder: "Type, then Enter",
      spellcheck: false,
      ariaLabel: "Text of the label (Enter to place it, Escape to cancel)"
    });
    const { width: streamWidth, height: streamHeight } = this.streamSize();
    Object.assign(input.style, {
      left: `${100 * point.x / streamWidth}%`,
      top: `${100 * point.y / streamHeight}%`,
      fontSize: `${textSize(width) * this.transform.scale}px`,
      background: colour,
      color: inkFor(colour)
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
    this.textInput = null;
    const text = open.input.value;
    open.input.remove();
    if (!commit || !text.trim()) return;
    const stroke = { id: this.newId(), tool: "text", colour: open.colour, width: open.width, points: [open.point], text };
    this.previews.draw(stroke);
    this.sendMark(stroke);
  }
  /** @param {Point} point stream px */
  eraseAt(point) {
    const at = this._toDesktop(point.x, point.y);
    const reach = 6 / Math.max(this.transform.scale, 0.05);
    const mark = markAt(this.marks, at.x, at.y, reach);
    if (mark) this.send("annotate.remove", { id: mark.id });
    else this.note("No mark there.");
  }
  undo() {
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
    this.previews.confirm(
      this.marks.map((mark) => mark.id),
      /** @type {number | undefined} */
      body.shown_at
    );
    const refused = (
      /** @type {{ id?: unknown, message?: string } | null | undefined} */
      body.refused
    );
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
};

// workbench/widget_src/control.js
var DOM_TO_CONTROL_BUTTON = { 0: 1, 1: 2, 2: 3 };
var DOM_BUTTON_BIT = { 0: 1, 1: 4, 2: 2 };
function controlButton(domButton) {
  return DOM_TO_CONTROL_BUTTON[domButton] ?? null;
}
function createControlTool(host) {
  let pending = null;
  let frame = 0;
  let last = null;
  const held = /* @__PURE__ */ new Set();
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
      if (!host.contains(point) || !notches.dx && !notches.dy) return;
      flush();
      host.send("control.pointer", { ...at(point), action: "wheel", dx: notches.dx, dy: notches.dy });
    },
    releaseAll,
    cancel() {
      releaseAll();
    }
  };
}

// workbench/widget_src/keys.js
var WHEEL_NOTCH_PX = 100;
var WHEEL_LINE_PX = 100 / 3;
var WHEEL_PAGE_PX = 800;
var NOT_A_KEY = /* @__PURE__ */ new Set(["Dead", "Unidentified", "Process", "Compose"]);
function modifiersOf(event) {
  const altGraph = event.getModifierState?.("AltGraph") ?? false;
  return (
    /** @type {[string, boolean][]} */
    [
      ["ctrl", event.ctrlKey && !altGraph],
      ["alt", event.altKey && !altGraph],
      ["shift", event.shiftKey],
      ["meta", event.metaKey]
    ].filter(([, on]) => on).map(([name]) => name)
  );
}
function isTextKey(event) {
  const key = event.key ?? "";
  if ([...key].length !== 1 || /** @type {number} */
  key.codePointAt(0) < 32 || key === "") return false;
  const altGraph = event.getModifierState?.("AltGraph") ?? false;
  return altGraph || !(event.ctrlKey || event.altKey || event.metaKey);
}
function keyEvent(event, down) {
  if (event.isComposing || NOT_A_KEY.has(event.key)) return null;
  if (isTextKey(event)) return down ? ["control.text", { text: event.key }] : null;
  return ["control.key", {
    action: down ? "down" : "up",
    key: event.key,
    code: event.code,
    modifiers: modifiersOf(event)
  }];
}
var WheelNotches = class {
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
};

// workbench/widget_src/control_mode.js
var ControlMode = class {
  /** @param {ControlModeHost} host */
  constructor(host) {
    this.host = host;
    this.on = false;
    this.heldKeys = /* @__PURE__ */ new Map();
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
    if (down && event.repeat && !isTextKey(event)) return true;
    const message = keyEvent(event, down);
    if (!message) return true;
    if (message[0] === "control.key") {
      const body = message[1];
      const id = event.code || event.key;
      if (down) this.heldKeys.set(id, body);
      else if (!this.heldKeys.delete(id)) return true;
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
};

// workbench/widget_src/zoom.js
var READABLE_SCALE = 0.75;
var ZOOM_CHOICES = Object.freeze([
  ["fit", "Fit to window", "The whole screen, as large as the room allows"],
  ["readable", "Fit, text readable", `Fit to window, but never below ${READABLE_SCALE * 100} %: drag or scroll to pan`],
  ["width", "Fit to width", "As wide as the cell; scroll the page for the rest"],
  ["0.5", "50 %", "Half the customer's pixels; drag or scroll to pan"],
  ["0.75", "75 %", "Three quarters of the customer's pixels; drag or scroll to pan"],
  ["1:1", "1:1 (100 %)", "One screen pixel per device pixel; drag or scroll to pan"],
  ["1.5", "150 %", "Enlarged; drag or scroll to pan"],
  ["2", "200 %", "Enlarged twice; drag or scroll to pan"]
]);
function zoomValue(zoom) {
  return String(zoom);
}
function zoomFromValue(value) {
  if (value === "fit" || value === "readable" || value === "width" || value === "1:1") return value;
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? number : "fit";
}
function isPannable(zoom) {
  return zoom !== "fit" && zoom !== "width";
}
function pictureSize(stream, room, zoom, dpr) {
  if (!stream.width || !stream.height) return { width: 0, height: 0 };
  const oneToOne = 1 / (dpr || 1);
  const fit = Math.min(room.width / stream.width, room.height / stream.height);
  let scale;
  if (zoom === "fit") scale = fit;
  else if (zoom === "readable") scale = Math.max(fit, READABLE_SCALE * oneToOne);
  else if (zoom === "width") scale = room.width / stream.width;
  else if (zoom === "1:1") scale = oneToOne;
  else scale = zoom * oneToOne;
  scale = Math.max(scale, 0.01);
  return { width: Math.max(1, Math.floor(stream.width * scale)), height: Math.max(1, Math.floor(stream.height * scale)) };
}

// workbench/widget_src/layout.js
function buildLayout(el) {
  const root = element("div", "wb-screen", { tabIndex: 0 });
  const bar = element("div", "wb-screen-bar");
  const monitorSelect = element("select", "wb-screen-monitor", { title: "Which of the customer's monitors to show" });
  const zoomSelect = element("select", "wb-screen-zoom", { title: "How large the picture is" });
  zoomSelect.append(...ZOOM_CHOICES.map(([value, text, title]) => element("option", "", { value, textContent: text, title })));
  const fullScreenButton = element("button", "wb-screen-fullscreen", { type: "button", textContent: "Full screen" });
  const popOutButton = element("button", "wb-screen-popout", {
    type: "button",
    textContent: "Pop out",
    title: "Open this view in a JupyterLab panel of its own"
  });
  const statusLine = element("span", "wb-screen-status", { role: "status" });
  bar.append(monitorSelect, zoomSelect, fullScreenButton, popOutButton, statusLine);
  const tools = buildToolbar();
  const notice = element("div", "wb-screen-notice", { hidden: true, role: "alert" });
  const viewport = element("div", "wb-screen-viewport");
  const placeholder = element("div", "wb-screen-placeholder", { textContent: "Waiting for the customer's screen…" });
  const stage = element("div", "wb-screen-stage", { hidden: true });
  const canvas = element("canvas", "wb-screen-canvas", { width: 0, height: 0 });
  const layer = element("div", "wb-screen-layer");
  const hiddenLayer = element("div", "wb-screen-hidden-layer");
  const marksSvg = svgElement("svg", { class: "wb-screen-marks", viewBox: "0 0 1 1", preserveAspectRatio: "none" });
  layer.append(hiddenLayer, marksSvg);
  stage.append(canvas, layer);
  viewport.append(placeholder, stage);
  root.append(bar, tools.toolbar, notice, viewport);
  el.append(root);
  return {
    root,
    monitorSelect,
    zoomSelect,
    fullScreenButton,
    popOutButton,
    statusLine,
    ...tools,
    notice,
    viewport,
    placeholder,
    stage,
    canvas,
    layer,
    hiddenLayer,
    marksSvg
  };
}
function buildToolbar() {
  const toolbar = element("div", "wb-screen-tools", { role: "toolbar", ariaLabel: "Marks and control" });
  const group = (...children) => {
    const box = element("span", "wb-screen-group");
    box.append(...children);
    return box;
  };
  const toolButtons = {};
  for (const [key, name] of Object.entries(TOOL_KEYS)) {
    const button = element("button", "wb-screen-tool", {
      type: "button",
      textContent: TOOL_LABELS[name],
      title: `${TOOL_LABELS[name]} (${key.toUpperCase()})`
    });
    button.dataset.tool = name;
    toolButtons[name] = button;
  }
  const { view, ...drawing } = toolButtons;
  const colourButtons = PALETTE.map(([name, colour], index) => {
    const button = element("button", "wb-screen-colour", {
      type: "button",
      title: `${name} (${index + 1})`,
      ariaLabel: name
    });
    button.dataset.colour = colour;
    button.style.background = colour;
    return button;
  });
  const undoButton = element("button", "wb-screen-undo", {
    type: "button",
    textContent: "Undo",
    title: "Remove the last mark (Backspace, Ctrl+Z)"
  });
  const clearButton = element("button", "wb-screen-clear", {
    type: "button",
    textContent: "Clear",
    title: "Remove every mark (Shift+C)"
  });
  const controlButton2 = element("button", "wb-screen-control", { type: "button", textContent: "Control" });
  const marksInfo = element("span", "wb-screen-marks-info");
  const noteLine = element("span", "wb-screen-note", { role: "status" });
  const info = element("div", "wb-screen-info");
  info.append(marksInfo, noteLine);
  toolbar.append(
    group(
      /** @type {HTMLButtonElement} */
      view,
      .../** @type {HTMLButtonElement[]} */
      Object.values(drawing)
    ),
    group(...colourButtons),
    group(undoButton, clearButton),
    group(controlButton2),
    info
  );
  return { toolbar, toolButtons, colourButtons, undoButton, clearButton, controlButton: controlButton2, marksInfo, noteLine };
}

// workbench/widget_src/backoff.js
function* backoffDelays({ initial = 250, factor = 2, max = 1e4, jitter = 0.25, random = Math.random } = {}) {
  let delay = initial;
  for (; ; ) {
    yield Math.round(delay * (1 - jitter + 2 * jitter * random()));
    delay = Math.min(max, delay * factor);
  }
}

// workbench/widget_src/protocol.js
var PROTOCOL_VERSION = 1;
function isInt(value) {
  return Number.isInteger(value) && /** @type {number} */
  value >= 0;
}
var textDecoder = new TextDecoder();
var textEncoder = new TextEncoder();
var FORMAT_2_HEAD = 19;
var LEAN_VERSION = 2;
var FORMAT_3_HEAD = 2;
function decodeCompactFrame(bytes) {
  if (bytes.byteLength < 4) throw new Error("compact screen frame shorter than its prefix");
  let extraLength = 0;
  let start = 5;
  let fmt = 2;
  if (bytes[2] === LEAN_VERSION) {
    fmt = 3;
    start = 0;
    for (let i = 3, scale = 1; i < Math.min(6, bytes.byteLength); i += 1, scale *= 128) {
      extraLength += (bytes[i] & 127) * scale;
      if (!(bytes[i] & 128)) {
        start = i + 1;
        break;
      }
    }
    if (!start || extraLength > 65535) throw new Error("compact screen frame: its extra length is cut short or out of range");
  } else if (bytes[2] === PROTOCOL_VERSION) {
    if (bytes.byteLength < 5) throw new Error("compact screen frame shorter than its prefix");
    extraLength = bytes[3] << 8 | bytes[4];
  } else {
    throw new Error(`protocol version ${bytes[2]}`);
  }
  if (start + extraLength > bytes.byteLength) throw new Error("compact screen frame: its extra fields run past the frame");
  let body = { fmt };
  if (extraLength) {
    const extra = JSON.parse(textDecoder.decode(bytes.subarray(start, start + extraLength)));
    if (extra === null || typeof extra !== "object" || Array.isArray(extra) || "fmt" in extra) {
      throw new Error("compact screen frame: its extra fields must be a JSON object without fmt");
    }
    body = { ...extra, fmt };
  }
  const payload = bytes.subarray(start + extraLength);
  if (payload.byteLength < (fmt === 3 ? FORMAT_3_HEAD : FORMAT_2_HEAD)) {
    throw new Error(`compact screen frame shorter than a format-${fmt} header`);
  }
  return { msg: { v: PROTOCOL_VERSION, type: "event", name: "screen.frame", body }, payload };
}
function decodeMessage(data) {
  let msg;
  let payload = new Uint8Array(0);
  if (typeof data === "string") {
    msg = JSON.parse(data);
  } else {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (bytes.byteLength >= 2 && bytes[0] === 87 && bytes[1] === 70) return decodeCompactFrame(bytes);
    if (bytes.byteLength < 7 || bytes[0] !== 87 || bytes[1] !== 66) {
      throw new Error("binary frame without the WB prefix");
    }
    if (bytes[2] !== PROTOCOL_VERSION) throw new Error(`protocol version ${bytes[2]}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = view.getUint32(3, false);
    if (7 + headerLength > bytes.byteLength) throw new Error("binary frame header length out of range");
    msg = JSON.parse(textDecoder.decode(bytes.subarray(7, 7 + headerLength)));
    payload = bytes.subarray(7 + headerLength);
  }
  if (msg === null || typeof msg !== "object" || Array.isArray(msg)) throw new Error("a message is a JSON object");
  if (msg.v !== PROTOCOL_VERSION) throw new Error(`protocol version ${msg.v}`);
  if (typeof msg.type !== "string") throw new Error("message without a type");
  return { msg, payload };
}
function encodeBinary(header, payload = new Uint8Array(0)) {
  const json = textEncoder.encode(JSON.stringify({ v: PROTOCOL_VERSION, ...header }));
  const out = new Uint8Array(7 + json.byteLength + payload.byteLength);
  out.set([87, 66, PROTOCOL_VERSION], 0);
  new DataView(out.buffer).setUint32(3, json.byteLength, false);
  out.set(json, 7);
  out.set(payload, 7 + json.byteLength);
  return out;
}
function eventMessage(name, body = {}) {
  return JSON.stringify({ v: PROTOCOL_VERSION, type: "event", name, body });
}
function helloMessage(sessionId, token) {
  return JSON.stringify({ v: PROTOCOL_VERSION, type: "hello", role: "viewer", session_id: sessionId, token });
}

// workbench/widget_src/link.js
var HELLO_TIMEOUT_MS = 1e4;
var STABLE_CONNECTION_MS = 5e3;
var ScreenLink = class {
  /** @param {LinkOptions} options */
  constructor({
    url,
    sessionId,
    token,
    onMessage,
    onState,
    WebSocketImpl = (
      /** @type {SocketClass} */
      /** @type {unknown} */
      globalThis.WebSocket
    )
  }) {
    this.credentials = { url, sessionId, token };
    this.onMessage = onMessage;
    this.onState = onState;
    this.WebSocketImpl = WebSocketImpl;
    this.ws = null;
    this.wanted = false;
    this.welcomedAt = 0;
    this.terminal = null;
    this.retryTimer = null;
    this.helloTimer = void 0;
    this.delays = backoffDelays();
    this.state = "idle";
    this.viewerId = null;
  }
  get live() {
    return this.state === "live";
  }
  /** Want the link up: connect now unless already connected, waiting to retry, or terminal. */
  start() {
    this.wanted = true;
    if (!this.ws && !this.retryTimer && !this.terminal) this._connect();
  }
  /** Close the socket and stop retrying (the view is hidden or gone). */
  stop() {
    this.wanted = false;
    this._clearRetry();
    this._close(1e3, "view closed");
    if (!this.terminal) this._setState("idle");
  }
  /** New URL, session or token: drop the current socket, forget a refusal, and reconnect if wanted.
   * @param {Partial<Credentials>} [credentials] */
  restart(credentials = {}) {
    Object.assign(this.credentials, credentials);
    this.terminal = null;
    this.delays = backoffDelays();
    this._clearRetry();
    this._close(1e3, "new credentials");
    if (this.wanted) this._connect();
    else this._setState("idle");
  }
  /** Send an event to the agent through the relay; false when not live (the caller drops it).
   * @param {string} name
   * @param {Record<string, unknown>} [body]
   * @returns {boolean} */
  send(name, body = {}) {
    if (!this.live || !this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(eventMessage(name, body));
    return true;
  }
  /** Close for good; no callback fires afterwards. */
  dispose() {
    this.onMessage = () => {
    };
    this.onState = () => {
    };
    this.stop();
  }
  _connect() {
    const { url, sessionId, token } = this.credentials;
    let ws;
    try {
      ws = new this.WebSocketImpl(url);
    } catch (err) {
      this.terminal = "refused";
      this._setState("refused", { message: `cannot open ${url}: ${/** @type {Error} */
      err.message}` });
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.welcomedAt = 0;
    this._setState("connecting");
    ws.onopen = () => {
      if (ws !== this.ws) return;
      ws.send(helloMessage(sessionId, token));
      this.helloTimer = setTimeout(() => ws === this.ws && ws.close(4e3, "no welcome"), HELLO_TIMEOUT_MS);
    };
    ws.onmessage = (event) => this._onData(ws, event.data);
    ws.onclose = (event) => this._onClose(ws, event);
    ws.onerror = () => {
    };
  }
  /** @param {SocketLike} ws @param {string | ArrayBuffer} data */
  _onData(ws, data) {
    if (ws !== this.ws) return;
    let decoded;
    try {
      decoded = decodeMessage(data);
    } catch (err) {
      console.warn(
        "screen: dropped a malformed message:",
        /** @type {Error} */
        err.message
      );
      return;
    }
    const { msg, payload } = decoded;
    if (msg.type === "error" && (msg.code === "unauthorized" || msg.code === "session_ended")) {
      this.terminal = msg.code === "unauthorized" ? "refused" : "ended";
      this._close(1e3, msg.code);
      this._setState(this.terminal, { code: msg.code, message: (
        /** @type {string | undefined} */
        msg.message
      ) });
      return;
    }
    if (!this.welcomedAt) {
      if (msg.type === "welcome") {
        clearTimeout(this.helloTimer);
        this.welcomedAt = performance.now();
        this.viewerId = /** @type {string | undefined} */
        msg.viewer_id ?? null;
        this._setState("live", { viewerId: this.viewerId });
      } else if (msg.type === "error") {
        ws.close(4001, "hello refused");
      }
      return;
    }
    this.onMessage(msg, payload);
  }
  /** @param {SocketLike} ws @param {{ code: number, reason: string }} event */
  _onClose(ws, event) {
    if (ws !== this.ws) return;
    clearTimeout(this.helloTimer);
    const livedFor = this.welcomedAt ? performance.now() - this.welcomedAt : 0;
    const wasWelcomed = this.welcomedAt > 0;
    this.ws = null;
    this.welcomedAt = 0;
    if (this.terminal) return;
    if (!this.wanted) {
      this._setState("idle");
      return;
    }
    if (livedFor >= STABLE_CONNECTION_MS) this.delays = backoffDelays();
    const delay = this.delays.next().value;
    this._setState("retrying", { delay, code: event.code, reason: event.reason, wasWelcomed });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.wanted && !this.ws) this._connect();
    }, delay);
  }
  /** @param {number} code @param {string} reason */
  _close(code, reason) {
    const ws = this.ws;
    clearTimeout(this.helloTimer);
    if (!ws) return;
    this.ws = null;
    this.welcomedAt = 0;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
    }
  }
  _clearRetry() {
    clearTimeout(this.retryTimer ?? void 0);
    this.retryTimer = null;
  }
  /** @param {LinkState} state @param {LinkDetail} [detail] */
  _setState(state, detail = {}) {
    this.state = state;
    this.onState(state, detail);
  }
};

// workbench/widget_src/model.js
var IDLE_TRAITS = Object.freeze({ fps: 0, kbps: 0, latency_ms: null, latency_kind: "" });
var TraitPublisher = class {
  /** @param {Pick<WidgetModel, "set" | "save_changes">} model */
  constructor(model) {
    this.model = model;
    this.lastPublished = {};
  }
  /** Set the values that differ from those last published; returns whether any did.
   * @param {Partial<Traits>} values @returns {boolean} */
  publish(values) {
    let changed = false;
    for (const [name, value] of Object.entries(values)) {
      const json = JSON.stringify(value);
      if (this.lastPublished[name] === json) continue;
      this.lastPublished[name] = json;
      this.model.set(
        /** @type {keyof Traits} */
        name,
        /** @type {never} */
        value
      );
      changed = true;
    }
    if (changed) this.model.save_changes();
    return changed;
  }
};

// workbench/widget_src/pointer.js
var PointerRouter = class {
  /** @param {HTMLElement} target @param {Pick<ViewTransform, "clientToStream">} transform */
  constructor(target, transform) {
    this.target = target;
    this.transform = transform;
    this.tool = null;
    this.handlers = {
      pointerdown: (event) => this._route("down", event),
      pointermove: (event) => this._route("move", event),
      pointerup: (event) => this._route("up", event),
      pointercancel: (event) => this._route("cancel", event)
    };
    for (const [name, handler] of Object.entries(this.handlers)) {
      target.addEventListener(
        name,
        /** @type {EventListener} */
        handler
      );
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
      this.target.removeEventListener(
        name,
        /** @type {EventListener} */
        handler
      );
    }
  }
  /** @param {PointerKind} kind @param {PointerEvent} event */
  _route(kind, event) {
    if (
      /** @type {Element | null} */
      event.target?.closest?.("input, textarea, select, button")
    ) return;
    const handler = this.tool?.[kind];
    if (handler) handler.call(this.tool, event, this.transform.clientToStream(event.clientX, event.clientY));
  }
};

// workbench/widget_src/screen_state.js
var DEFAULT_HIDDEN_LABEL = "Hidden by the customer";
function monitorsFrom(body) {
  return (Array.isArray(body.monitors) ? body.monitors : []).filter((m) => isInt(m.index));
}
function streamFrom(body) {
  return body.stream && typeof body.stream === "object" ? body.stream : null;
}
function monitorsTrait(monitors) {
  return monitors.map(({ index, x, y, width, height, primary }) => ({
    index,
    x,
    y,
    width,
    height,
    primary: Boolean(primary)
  }));
}
function stateNoticeFrom(body) {
  return {
    paused: Boolean(body.paused),
    hiddenCount: isInt(body.hidden_count) ? body.hidden_count : 0,
    reason: typeof body.reason === "string" ? body.reason : ""
  };
}
function controlStateFrom(body) {
  return {
    granted: body.granted === true,
    customerActive: body.customer_active === true,
    resumeIn: Number.isFinite(body.resume_in) ? body.resume_in : null,
    graceS: Number.isFinite(body.grace_s) && body.grace_s > 0 ? body.grace_s : null
  };
}
function streamOrigin(monitor, stream, monitors, frameOrigin = null) {
  if (frameOrigin) return { x: frameOrigin.x, y: frameOrigin.y };
  if (stream && stream.monitor === monitor && Number.isFinite(stream.x) && Number.isFinite(stream.y)) {
    return { x: (
      /** @type {number} */
      stream.x
    ), y: (
      /** @type {number} */
      stream.y
    ) };
  }
  if (monitor === "all" || monitor === void 0) {
    if (!monitors.length) return { x: 0, y: 0 };
    return { x: Math.min(...monitors.map((m) => m.x)), y: Math.min(...monitors.map((m) => m.y)) };
  }
  const shown = monitors.find((m) => m.index === monitor);
  return shown ? { x: shown.x, y: shown.y } : { x: 0, y: 0 };
}
function frameOriginFrom(body) {
  const { x, y } = body;
  return Number.isInteger(x) && Number.isInteger(y) ? { x: (
    /** @type {number} */
    x
  ), y: (
    /** @type {number} */
    y
  ) } : null;
}
function monitorOptions(monitors, current) {
  const options = [["all", monitors.length > 1 ? "All monitors, side by side" : "All monitors"]];
  for (const monitor of monitors) options.push([String(monitor.index), monitorLabel(monitor)]);
  if (!options.some(([value]) => value === current)) options.push([current, `Monitor ${current}`]);
  return options;
}
function hiddenBoxes(hidden, width, height) {
  const percent = (value, total) => `${100 * value / total}%`;
  return hidden.map((area) => ({
    text: typeof area.label === "string" && area.label ? area.label : DEFAULT_HIDDEN_LABEL,
    style: `left:${percent(area.x, width)};top:${percent(area.y, height)};width:${percent(area.w, width)};height:${percent(area.h, height)}`
  }));
}

// workbench/widget_src/shortcuts.js
function shortcutFor(event) {
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

// workbench/widget_src/stats.js
var STATS_WINDOW_MS = 2e3;
var PLAUSIBLE_LATENCY_MS = 5e3;
var StreamStats = class {
  /** @param {() => number} [now] a monotonic clock in ms @param {() => number} [wallClock] epoch ms */
  constructor(now = () => performance.now(), wallClock = () => Date.now()) {
    this.now = now;
    this.wallClock = wallClock;
    this.lastChangeAt = null;
    this.since = 0;
    this.received = [];
    this.drawn = [];
    this.roundTrips = [];
    this.lastAckAt = null;
    this.reset();
  }
  reset() {
    this.since = this.now();
    this.received = [];
    this.drawn = [];
    this.roundTrips = [];
    this.lastAckAt = null;
    this.lastChangeAt = null;
  }
  /** @param {number} bytes */
  frameReceived(bytes) {
    const t = this.now();
    this.received.push([t, bytes]);
    if (this.lastAckAt !== null) {
      this.roundTrips.push([t, t - this.lastAckAt]);
      this.lastAckAt = null;
    }
  }
  /** @param {number | undefined} capturedAtEpochMs the agent's capture time, if it said */
  frameDrawn(capturedAtEpochMs) {
    const latency = Number.isFinite(capturedAtEpochMs) ? performance.timeOrigin + performance.now() - /** @type {number} */
    capturedAtEpochMs : null;
    this.drawn.push([this.now(), latency]);
    this.lastChangeAt = this.wallClock();
  }
  ackSent() {
    this.lastAckAt = this.now();
  }
  /** @returns {StatsSnapshot} */
  snapshot() {
    const t = this.now();
    const cutoff = t - STATS_WINDOW_MS;
    for (const list of [this.received, this.drawn, this.roundTrips]) {
      while (list.length && list[0][0] <= cutoff) list.shift();
    }
    const span = Math.max(1, Math.min(STATS_WINDOW_MS, t - this.since));
    const fps = this.drawn.length * 1e3 / span;
    const kbps = this.received.reduce((sum, [, bytes]) => sum + bytes, 0) * 8 / span;
    const latencies = this.drawn.map(([, latency]) => latency);
    let latencyMs = null;
    let latencyKind = "";
    if (latencies.length && latencies.every((l) => l !== null && l >= -1 && l < PLAUSIBLE_LATENCY_MS)) {
      latencyMs = Math.max(0, median(
        /** @type {number[]} */
        latencies
      ));
      latencyKind = "capture";
    } else if (this.roundTrips.length) {
      latencyMs = Math.min(...this.roundTrips.map(([, ms]) => ms));
      latencyKind = "rtt";
    }
    return { fps, kbps, latencyMs, latencyKind, lastChangeAt: this.lastChangeAt };
  }
};
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// workbench/widget_src/yuv.js
var Y_GAIN = 76309;
var V_TO_R = 104597;
var U_TO_G = 25675;
var V_TO_G = 53279;
var U_TO_B = 132201;
var ROUND = 32768;
function table(term, size = 256) {
  const values = new Int32Array(size);
  for (let level = 0; level < size; level += 1) values[level] = term(level);
  return values;
}
var Y_TERM = table((y) => Y_GAIN * (y - 16) + ROUND);
var R_FROM_V = table((v) => V_TO_R * (v - 128));
var G_FROM_U = table((u) => -U_TO_G * (u - 128));
var G_FROM_V = table((v) => -V_TO_G * (v - 128));
var B_FROM_U = table((u) => U_TO_B * (u - 128));
var CLAMP_OFFSET = 1024;
var CLAMP = table((level) => Math.max(0, Math.min(255, level - CLAMP_OFFSET)), 2 * CLAMP_OFFSET);
function i420ToImageData(y, u, v, width, height, uStep = 1) {
  const image = new ImageData(width, height);
  const pixels = new Uint32Array(image.data.buffer);
  const yd = y.data;
  const ud = u.data;
  const vd = v.data;
  for (let row = 0; row < height; row += 1) {
    const yRow = y.offset + row * y.stride;
    const uRow = u.offset + (row >> 1) * u.stride;
    const vRow = v.offset + (row >> 1) * v.stride;
    let out = row * width;
    for (let col = 0; col < width; col += 2) {
      const chroma = (col >> 1) * uStep;
      const cu = ud[uRow + chroma];
      const cv = vd[vRow + chroma];
      const red = R_FROM_V[cv];
      const green = G_FROM_U[cu] + G_FROM_V[cv];
      const blue = B_FROM_U[cu];
      let luma = Y_TERM[yd[yRow + col]];
      pixels[out] = 4278190080 | CLAMP[(luma + blue >> 16) + CLAMP_OFFSET] << 16 | CLAMP[(luma + green >> 16) + CLAMP_OFFSET] << 8 | CLAMP[(luma + red >> 16) + CLAMP_OFFSET];
      if (col + 1 < width) {
        luma = Y_TERM[yd[yRow + col + 1]];
        pixels[out + 1] = 4278190080 | CLAMP[(luma + blue >> 16) + CLAMP_OFFSET] << 16 | CLAMP[(luma + green >> 16) + CLAMP_OFFSET] << 8 | CLAMP[(luma + red >> 16) + CLAMP_OFFSET];
      }
      out += 2;
    }
  }
  return image;
}
async function videoFrameToImageData(video, width, height) {
  const format = video.format;
  if (format !== "I420" && format !== "I420A" && format !== "NV12") {
    throw new Error(`h264 picture in ${format} layout, not I420 or NV12`);
  }
  if (video.visibleRect === null || video.visibleRect.width < width || video.visibleRect.height < height) {
    throw new Error(`h264 picture smaller than its ${width}x${height} rect`);
  }
  const data = new Uint8Array(video.allocationSize());
  const layout = await video.copyTo(data);
  const [y, u, v] = layout;
  if (format === "NV12") {
    return i420ToImageData({ data, ...y }, { data, ...u }, { data, offset: u.offset + 1, stride: u.stride }, width, height, 2);
  }
  return i420ToImageData({ data, ...y }, { data, ...u }, { data, ...v }, width, height);
}

// workbench/widget_src/h264.js
var H264_CONFIG = Object.freeze({ codec: "avc1.640028", optimizeForLatency: true });
async function h264Supported() {
  if (typeof VideoDecoder === "undefined") return false;
  try {
    return Boolean((await VideoDecoder.isConfigSupported({ ...H264_CONFIG })).supported);
  } catch {
    return false;
  }
}
function nalTypes(bytes) {
  const starts = bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && (bytes[2] === 1 || bytes[2] === 0 && bytes[3] === 1);
  if (!starts) return [];
  const types = [];
  for (let i = 0; i + 3 < bytes.length; i += 1) {
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) {
      types.push(bytes[i + 3] & 31);
      i += 2;
    }
  }
  return types;
}
var H264Stream = class {
  constructor() {
    this.decoder = null;
    this.pending = [];
    this.count = 0;
  }
  /** Decode one access unit; resolves to its picture's top-left width x height pixels (the
   * picture is padded to even sides). Rejects a unit that needs earlier pictures while the decoder
   * has none (before the stream's IDR, or after a decoding error).
   * @param {Uint8Array} bytes @param {number} width @param {number} height @returns {Promise<ImageData>} */
  decode(bytes, width, height) {
    const types = nalTypes(bytes);
    if (!types.length) return Promise.reject(new Error("h264 rectangle that is not an Annex B access unit"));
    const idr = types.includes(5);
    if (!this.decoder || this.decoder.state === "closed") {
      if (!idr) return Promise.reject(new Error("h264 rectangle before its stream's IDR"));
      this._open();
    }
    const decoder = (
      /** @type {VideoDecoder} */
      this.decoder
    );
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject, width, height });
      try {
        const data = (
          /** @type {Uint8Array<ArrayBuffer>} */
          bytes
        );
        decoder.decode(new EncodedVideoChunk({ type: idr ? "key" : "delta", timestamp: this.count++, data }));
      } catch (err) {
        this.pending.pop();
        reject(err);
      }
    });
  }
  _open() {
    const pending = [];
    this.pending = pending;
    const decoder = new VideoDecoder({
      output: (video) => {
        const waiting = pending.shift();
        if (!waiting) {
          video.close();
          return;
        }
        const image = videoFrameToImageData(video, waiting.width, waiting.height);
        image.finally(() => video.close()).catch(() => {
        });
        waiting.resolve(image);
      },
      error: (err) => {
        for (const waiting of pending.splice(0)) waiting.reject(err);
      }
    });
    decoder.configure({ ...H264_CONFIG });
    this.decoder = decoder;
  }
  /** Forget the stream (a new connection): pictures still decoding are dropped. */
  close() {
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    for (const waiting of this.pending.splice(0)) waiting.reject(new Error("h264 stream closed"));
    this.decoder = null;
  }
};

// workbench/widget_src/frame_format.js
var CODECS = Object.freeze(["copy", "fill", "png", "jpeg", "raw", "pal", "h264"]);
var HEAD = 19;
var RECT = 9;
var FLAG_KEY = 1;
var FLAG_PAUSED = 2;
var FLAG_SIZE = 4;
var MAX_SIDE = 32767;
var MAX_PIXELS = 3 * 7680 * 4320;
function checkFrameSize(width, height) {
  if (width > MAX_SIDE || height > MAX_SIDE) throw new Error(`frame of ${width}x${height}, over ${MAX_SIDE} pixels a side`);
  if (width * height > MAX_PIXELS) throw new Error(`frame of ${width}x${height}, over ${MAX_PIXELS} pixels in all`);
}
function newStreamState() {
  return { width: 0, height: 0, base: 0, known: false };
}
var FrameNeedsKey = class extends Error {
  /** @param {number} seq */
  constructor(seq) {
    super(`format-3 frame ${seq} before any key frame of its stream`);
    this.code = "frame_needs_key";
    this.seq = seq;
  }
};
var Reader = class {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.bytes = bytes;
    this.offset = 0;
  }
  /** @param {string} what @returns {number} */
  varint(what) {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 5 && this.offset < this.bytes.byteLength; i += 1) {
      const byte = this.bytes[this.offset];
      this.offset += 1;
      value += (byte & 127) * scale;
      if (!(byte & 128)) {
        if (value > 4294967295) break;
        return value;
      }
      scale *= 128;
    }
    throw new Error(`format-3 frame cut short or out of range in its ${what}`);
  }
  /** @param {string} what @returns {number} */
  byte(what) {
    if (this.offset >= this.bytes.byteLength) throw new Error(`format-3 frame cut short in its ${what}`);
    this.offset += 1;
    return this.bytes[this.offset - 1];
  }
};
function unpackFrame3(body, payload, state) {
  const reader = new Reader(payload);
  const flags = reader.byte("flags");
  const key = Boolean(flags & FLAG_KEY);
  const seq = reader.varint("seq");
  let base = state.base;
  let capturedAt;
  if (key) {
    if (reader.offset + 8 > payload.byteLength) throw new Error("format-3 key frame cut short in its time base");
    base = new DataView(payload.buffer, payload.byteOffset + reader.offset, 8).getFloat64(0);
    reader.offset += 8;
    if (!Number.isFinite(base)) throw new Error("format-3 key frame whose time base is not a number");
    capturedAt = base;
  } else {
    if (!state.known) throw new FrameNeedsKey(seq);
    capturedAt = base + reader.varint("capture time");
  }
  let { width, height } = state;
  if (flags & FLAG_SIZE) {
    width = reader.varint("width");
    height = reader.varint("height");
    checkFrameSize(width, height);
  } else if (key) {
    throw new Error("format-3 key frame without its size");
  }
  const count = reader.varint("count");
  const rects = [];
  for (let i = 0; i < count; i += 1) {
    const number = reader.byte("rectangles' table");
    const codec = CODECS[number];
    if (codec === void 0) throw new Error(`format-3 rectangle with codec number ${number}`);
    const rect = { codec, len: 0 };
    for (const name of ["x", "y", "w", "h"]) rect[name] = reader.varint(`${codec} rectangle's ${name}`);
    if (codec === "copy") {
      rect.sx = reader.varint("copy rectangle's sx");
      rect.sy = reader.varint("copy rectangle's sy");
    } else if (codec === "fill") {
      rect.rgb = [reader.byte("fill"), reader.byte("fill"), reader.byte("fill")];
    } else {
      rect.len = reader.varint(`${codec} rectangle's length`);
    }
    rects.push(rect);
  }
  Object.assign(state, { width, height, base, known: true });
  return {
    body: {
      seq,
      key,
      width,
      height,
      captured_at: capturedAt,
      rects,
      hidden: Array.isArray(body.hidden) ? body.hidden : [],
      paused: Boolean(flags & FLAG_PAUSED),
      monitor: body.monitor ?? "all",
      x: Number.isInteger(body.x) ? body.x : 0,
      y: Number.isInteger(body.y) ? body.y : 0
    },
    payload: payload.subarray(reader.offset)
  };
}
function unpackFrame(body, payload, state = newStreamState()) {
  if (body.fmt === void 0) return { body, payload };
  if (body.fmt === 3) return unpackFrame3(body, payload, state);
  if (body.fmt !== 2) throw new Error(`frame format ${String(body.fmt)}; this viewer reads 1, 2 and 3`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if (view.byteLength < HEAD) throw new Error("format-2 frame shorter than its header");
  const count = view.getUint16(17);
  let offset = HEAD;
  const rects = [];
  for (let i = 0; i < count; i += 1) {
    if (offset + RECT > view.byteLength) throw new Error("format-2 frame cut in its rectangles' table");
    const codec = CODECS[view.getUint8(offset)];
    if (codec === void 0) throw new Error(`format-2 rectangle with codec number ${view.getUint8(offset)}`);
    const rect = {
      x: view.getUint16(offset + 1),
      y: view.getUint16(offset + 3),
      w: view.getUint16(offset + 5),
      h: view.getUint16(offset + 7),
      codec,
      len: 0
    };
    offset += RECT;
    const extra = codec === "fill" ? 3 : 4;
    if (offset + extra > view.byteLength) throw new Error(`format-2 ${codec} rectangle cut short`);
    if (codec === "copy") {
      rect.sx = view.getUint16(offset);
      rect.sy = view.getUint16(offset + 2);
    } else if (codec === "fill") {
      rect.rgb = [view.getUint8(offset), view.getUint8(offset + 1), view.getUint8(offset + 2)];
    } else {
      rect.len = view.getUint32(offset);
    }
    offset += extra;
    rects.push(rect);
  }
  const flags = view.getUint8(16);
  checkFrameSize(view.getUint16(12), view.getUint16(14));
  return {
    body: {
      seq: view.getUint32(0),
      key: Boolean(flags & FLAG_KEY),
      width: view.getUint16(12),
      height: view.getUint16(14),
      captured_at: view.getFloat64(4),
      rects,
      hidden: Array.isArray(body.hidden) ? body.hidden : [],
      paused: Boolean(flags & FLAG_PAUSED),
      monitor: body.monitor ?? "all",
      // a format-2 agent always knows where its frame is: absent means the virtual screen's 0, 0
      x: Number.isInteger(body.x) ? body.x : 0,
      y: Number.isInteger(body.y) ? body.y : 0
    },
    payload: payload.subarray(offset)
  };
}
async function inflateRaw(bytes) {
  const stream = new Blob([
    /** @type {Uint8Array<ArrayBuffer>} */
    bytes
  ]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
async function decodePalette(bytes, width, height) {
  if (bytes.byteLength < 1) throw new Error("pal rect without a palette");
  const count = bytes[0] + 1;
  if (count > 16 || bytes.byteLength < 2 + 3 * count) throw new Error("pal rect of a bad palette");
  const mode = bytes[1 + 3 * count];
  if (mode !== 0 && mode !== 1) throw new Error(`pal rect of mode ${mode}`);
  const bits = count <= 2 ? 1 : count <= 4 ? 2 : 4;
  const rowBytes = Math.ceil(width * bits / 8);
  const packed = mode === 1 ? await inflateRaw(bytes.subarray(2 + 3 * count)) : bytes.subarray(2 + 3 * count);
  if (packed.byteLength !== rowBytes * height) throw new Error("pal rect of the wrong size");
  const rgba = new Uint8ClampedArray(width * height * 4);
  const mask = (1 << bits) - 1;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const bit = x * bits;
      const index = packed[y * rowBytes + (bit >> 3)] >> 8 - bits - (bit & 7) & mask;
      if (index >= count) throw new Error("pal rect with an index past its colours");
      const at = (y * width + x) * 4;
      rgba[at] = bytes[1 + 3 * index];
      rgba[at + 1] = bytes[2 + 3 * index];
      rgba[at + 2] = bytes[3 + 3 * index];
      rgba[at + 3] = 255;
    }
  }
  return new ImageData(rgba, width, height);
}

// workbench/widget_src/surface.js
var HIDDEN_FILL = "#303030";
function closeImages(images) {
  for (const image of images ?? []) image?.close?.();
}
function bgrxToImageData(bytes, width, height) {
  const rgba = new Uint8ClampedArray(bytes.byteLength);
  for (let i = 0; i < rgba.length; i += 4) {
    rgba[i] = bytes[i + 2];
    rgba[i + 1] = bytes[i + 1];
    rgba[i + 2] = bytes[i];
    rgba[i + 3] = 255;
  }
  return new ImageData(rgba, width, height);
}
var pngDecoder = typeof ImageDecoder === "function";
async function decodeImage(bytes, type) {
  if (type === "image/png" && pngDecoder) {
    let decoder = null;
    try {
      decoder = new ImageDecoder({ data: bytes, type });
      return (await decoder.decode()).image;
    } catch {
      pngDecoder = false;
    } finally {
      decoder?.close();
    }
  }
  return createImageBitmap(new Blob([
    /** @type {Uint8Array<ArrayBuffer>} */
    bytes
  ], { type }));
}
function decodeRects(body, payload, video = null) {
  const rects = Array.isArray(body.rects) ? body.rects : [];
  let offset = 0;
  const tasks = rects.map((rect) => {
    if (![rect.x, rect.y, rect.w, rect.h, rect.len].every(isInt)) {
      return Promise.reject(new Error("rect with bad geometry"));
    }
    const start = offset;
    offset += rect.len;
    if (offset > payload.byteLength) return Promise.reject(new Error("rects longer than the payload"));
    const bytes = payload.subarray(start, offset);
    switch (rect.codec) {
      case "jpeg":
      case "png":
        return decodeImage(bytes, `image/${rect.codec}`);
      case "pal":
        return decodePalette(bytes, rect.w, rect.h);
      case "h264":
        if (!video) return Promise.reject(new Error("h264 rect without a decoder"));
        return video.decode(bytes, rect.w, rect.h);
      case "raw":
        if (bytes.byteLength !== rect.w * rect.h * 4) return Promise.reject(new Error("raw rect of wrong size"));
        return Promise.resolve(bgrxToImageData(bytes, rect.w, rect.h));
      case "copy": {
        const { sx, sy } = rect;
        const inside = isInt(sx) && isInt(sy) && sx + rect.w <= /** @type {number} */
        body.width && sy + rect.h <= /** @type {number} */
        body.height;
        if (!inside || rect.len !== 0) return Promise.reject(new Error("copy rect from outside the frame"));
        return Promise.resolve({ copyFrom: { x: sx, y: sy } });
      }
      case "fill": {
        const { rgb } = rect;
        const colour = Array.isArray(rgb) && rgb.length === 3 && rgb.every((c) => isInt(c) && c <= 255);
        if (!colour || rect.len !== 0) return Promise.reject(new Error("fill rect without a colour"));
        return Promise.resolve({ fill: `rgb(${rgb[0]},${rgb[1]},${rgb[2]})` });
      }
      default:
        return Promise.reject(new Error(`unknown codec ${rect.codec}`));
    }
  });
  return Promise.allSettled(tasks).then((results) => {
    const failed = results.find((result) => result.status === "rejected");
    const images = results.map((result) => result.status === "fulfilled" ? result.value : null);
    if (failed) {
      closeImages(images);
      throw failed.reason;
    }
    return (
      /** @type {Drawable[]} */
      images
    );
  });
}
function newScratchCanvas() {
  return typeof document !== "undefined" && typeof document.createElement === "function" ? document.createElement("canvas") : null;
}
var ScreenSurface = class {
  /** @param {HTMLCanvasElement} canvas @param {SurfaceCallbacks} [callbacks] */
  constructor(canvas, { onFrameDone = () => {
  }, onResize = () => {
  }, makeScratch = newScratchCanvas } = {}) {
    this.canvas = canvas;
    this.ctx = /** @type {CanvasRenderingContext2D} */
    canvas.getContext("2d", { alpha: false });
    this.ctx.imageSmoothingEnabled = false;
    this.makeScratch = makeScratch;
    this.scratch = null;
    this.onFrameDone = onFrameDone;
    this.onResize = onResize;
    this.queue = [];
    this.pumping = false;
    this.generation = 0;
    this.hidden = [];
    this.framesDrawn = 0;
    this.stream = newStreamState();
    this.video = new H264Stream();
  }
  get width() {
    return this.canvas.width;
  }
  get height() {
    return this.canvas.height;
  }
  /** A frame as it came off the wire (either format: see frame_format.js).
   * @param {FrameBody} wireBody @param {Uint8Array} wirePayload */
  push(wireBody, wirePayload) {
    let body = wireBody;
    let images;
    try {
      const frame = unpackFrame(wireBody, wirePayload, this.stream);
      body = /** @type {FrameBody} */
      frame.body;
      images = decodeRects(body, frame.payload, this.video);
    } catch (err) {
      if (err instanceof FrameNeedsKey) body = /** @type {FrameBody} */
      { seq: err.seq, key: false };
      images = Promise.reject(err);
    }
    const job = { body, generation: this.generation, skipped: false, images };
    job.images.catch(() => {
    });
    if (body.key) for (const queued of this.queue) queued.skipped = true;
    this.queue.push(job);
    this._pump();
  }
  /** Forget queued frames (a new connection starts a new stream); the picture stays. */
  reset() {
    this.generation += 1;
    this.stream = newStreamState();
    this.video.close();
    this.video = new H264Stream();
    for (const job of this.queue) job.images.then(closeImages, () => {
    });
    this.queue = [];
  }
  dispose() {
    this.reset();
    this.scratch = null;
    this.onFrameDone = () => {
    };
    this.onResize = () => {
    };
  }
  async _pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length) {
        const job = this.queue[0];
        if (job.skipped) {
          this.queue.shift();
          job.images.then(closeImages, () => {
          });
          this.onFrameDone(job.body, { skipped: true, error: null });
          continue;
        }
        let images = null;
        let error = null;
        try {
          images = await job.images;
        } catch (err) {
          error = err;
        }
        if (job.generation !== this.generation) {
          closeImages(images);
          continue;
        }
        this.queue.shift();
        if (!error) {
          try {
            this._draw(
              job.body,
              /** @type {Drawable[]} */
              images
            );
          } catch (err) {
            error = err;
          }
        }
        closeImages(images);
        this.onFrameDone(job.body, { skipped: false, error });
      }
    } finally {
      this.pumping = false;
    }
  }
  /** @param {FrameBody} body @param {Drawable[]} images */
  _draw(body, images) {
    const { canvas, ctx } = this;
    if (isInt(body.width) && isInt(body.height) && (canvas.width !== body.width || canvas.height !== body.height)) {
      canvas.width = body.width;
      canvas.height = body.height;
      ctx.imageSmoothingEnabled = false;
      this.onResize(body.width, body.height, Boolean(body.key));
    }
    const rects = Array.isArray(body.rects) ? body.rects : [];
    rects.forEach((rect, index) => {
      const image = images[index];
      if (image instanceof ImageData) {
        ctx.putImageData(image, rect.x, rect.y);
      } else if ("fill" in image) {
        ctx.fillStyle = image.fill;
        ctx.fillRect(rect.x, rect.y, rect.w, rect.h);
      } else if ("copyFrom" in image) {
        this._copy(image.copyFrom, rect);
      } else {
        ctx.drawImage(image, rect.x, rect.y);
      }
    });
    const hidden = Array.isArray(body.hidden) ? body.hidden : [];
    this.hidden = hidden.filter((area) => [area.x, area.y, area.w, area.h].every(isInt));
    ctx.fillStyle = HIDDEN_FILL;
    for (const area of this.hidden) {
      ctx.fillRect(area.x, area.y, area.w, area.h);
    }
    this.framesDrawn += 1;
  }
  /** A "copy" rect: *rect*'s pixels from *from* in the picture as it stands, by way of a scratch
   * canvas. Drawing the picture onto itself would be right too (the browser behaves as if the
   * source were copied first, so a scroll's overlapping source and destination come out right),
   * but Chromium then copies the whole picture to take its snapshot: in a scroll of most of the
   * screen at 30 frames/s, about a third of the page's CPU. Copying the rectangle out and back
   * costs less than that.
   * @param {{ x: number, y: number }} from @param {FrameRect} rect */
  _copy(from, rect) {
    const { canvas, ctx } = this;
    const scratch = this._scratchFor(rect.w, rect.h);
    if (scratch === null) {
      ctx.drawImage(canvas, from.x, from.y, rect.w, rect.h, rect.x, rect.y, rect.w, rect.h);
      return;
    }
    scratch.ctx.drawImage(canvas, from.x, from.y, rect.w, rect.h, 0, 0, rect.w, rect.h);
    ctx.drawImage(scratch.canvas, 0, 0, rect.w, rect.h, rect.x, rect.y, rect.w, rect.h);
  }
  /** The scratch canvas, at least *width* × *height* (grown, never shrunk), or null where none can be made.
   * @param {number} width @param {number} height */
  _scratchFor(width, height) {
    if (this.scratch === null) {
      const canvas2 = this.makeScratch();
      const ctx2 = canvas2?.getContext("2d", { alpha: false });
      if (!canvas2 || !ctx2) return null;
      this.scratch = { canvas: canvas2, ctx: (
        /** @type {CanvasRenderingContext2D} */
        ctx2
      ) };
    }
    const { canvas, ctx } = this.scratch;
    if (canvas.width < width || canvas.height < height) {
      canvas.width = Math.max(canvas.width, width);
      canvas.height = Math.max(canvas.height, height);
    }
    ctx.imageSmoothingEnabled = false;
    return this.scratch;
  }
};

// workbench/widget_src/toolbar.js
function controlButtonText({ granted, controlOn, ended = false }) {
  if (ended) return { text: "Control", title: "The session has ended" };
  if (controlOn) return { text: "Control: on", title: "Your mouse and keys go to the customer's computer; click to stop" };
  return {
    text: "Control",
    title: granted ? "Use the customer's mouse and keyboard (they can take it back at any time)" : "The customer has not allowed control"
  };
}
function renderToolbar({ root, toolButtons, colourButtons, controlButton: controlButton2, undoButton, clearButton }, state) {
  const ended = state.ended ?? false;
  root.dataset.tool = state.tool;
  root.classList?.toggle("wb-screen--ended", ended);
  for (const [name, button] of Object.entries(toolButtons)) {
    button.setAttribute("aria-pressed", String(name === state.tool));
    button.disabled = ended && name !== "view";
  }
  for (const button of colourButtons) {
    button.setAttribute("aria-pressed", String(button.dataset.colour === state.colour));
    button.disabled = ended;
  }
  for (const button of [undoButton, clearButton]) {
    if (button) button.disabled = ended;
  }
  controlButton2.disabled = ended || !state.granted || !state.live;
  controlButton2.setAttribute("aria-pressed", String(state.controlOn));
  const { text, title } = controlButtonText(state);
  controlButton2.textContent = text;
  controlButton2.title = title;
}

// workbench/widget_src/tools.js
var LASER_SEND_INTERVAL_MS = 100;
var LASER_TRAIL_MS = 300;
var MIN_POINT_DISTANCE = 2;
var MIN_SHAPE_SIZE = 3;
function createPanTool(viewport, isActive) {
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
    }
  };
}
function createDrawTool(tool, host) {
  const twoPoints = tool === "arrow" || tool === "rect" || tool === "ellipse";
  let stroke = null;
  const begin = (point) => ({ id: host.newId(), tool, ...host.style(tool), points: twoPoints ? [point, point] : [point] });
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
        host.finish(stroke);
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
    }
  };
}
function createLaserTool(host, now = () => performance.now()) {
  let trail = null;
  let sentAt = -Infinity;
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
    }
  };
}
function createTextTool(host) {
  return {
    name: "text",
    down(event, point) {
      if (event.button !== 0 || !host.contains(point)) return;
      event.preventDefault();
      host.openText(point);
    }
  };
}
function createEraserTool(host) {
  return {
    name: "eraser",
    down(event, point) {
      if (event.button !== 0 || !host.contains(point)) return;
      event.preventDefault();
      host.eraseAt(point);
    }
  };
}

// workbench/widget_src/transform.js
var ViewTransform = class {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {() => Point} [streamOrigin] the stream's top left corner in desktop px
   */
  constructor(canvas, streamOrigin2 = () => ({ x: 0, y: 0 })) {
    this.canvas = canvas;
    this.streamOrigin = streamOrigin2;
  }
  /** CSS px per stream px (1 in 1:1 on a 1× display; < 1 when fitted to a narrow cell). */
  get scale() {
    const box = this.canvas.getBoundingClientRect();
    return this.canvas.width ? box.width / this.canvas.width : 1;
  }
  /** @param {number} clientX @param {number} clientY @returns {Point} */
  clientToStream(clientX, clientY) {
    const box = this.canvas.getBoundingClientRect();
    const sx = box.width ? this.canvas.width / box.width : 1;
    const sy = box.height ? this.canvas.height / box.height : 1;
    return { x: (clientX - box.left) * sx, y: (clientY - box.top) * sy };
  }
  /** @param {number} x @param {number} y @returns {Point} */
  streamToClient(x, y) {
    const box = this.canvas.getBoundingClientRect();
    const sx = this.canvas.width ? box.width / this.canvas.width : 1;
    const sy = this.canvas.height ? box.height / this.canvas.height : 1;
    return { x: box.left + x * sx, y: box.top + y * sy };
  }
  /** Stream px → desktop px: the stream's origin is the shown monitor's corner (or the virtual
   * screen's for "all"). Control events are sent in desktop px.
   * @param {number} x @param {number} y @returns {Point} */
  streamToDesktop(x, y) {
    const origin = this.streamOrigin();
    return { x: x + origin.x, y: y + origin.y };
  }
  /** @param {number} x @param {number} y @returns {Point} */
  desktopToStream(x, y) {
    const origin = this.streamOrigin();
    return { x: x - origin.x, y: y - origin.y };
  }
  /** @param {Point} point @returns {boolean} */
  containsStream(point) {
    return point.x >= 0 && point.y >= 0 && point.x < this.canvas.width && point.y < this.canvas.height;
  }
};

// workbench/widget_src/window_modes.js
var OUTPUT_VIEW_COMMAND = "notebook:create-output-view";
var POP_OUT_BY_HAND = "To open this view in its own panel, right-click the cell's output and choose “Create New View for Cell Output”.";
function isFullScreen(el) {
  return el.ownerDocument.fullscreenElement === el;
}
function canFullScreen(el) {
  return Boolean(el.ownerDocument.fullscreenEnabled && typeof el.requestFullscreen === "function");
}
async function toggleFullScreen(el) {
  const doc = el.ownerDocument;
  try {
    if (isFullScreen(el)) await doc.exitFullscreen();
    else if (!canFullScreen(el)) return { ok: false, message: "This page cannot show the view full screen." };
    else await el.requestFullscreen({ navigationUI: "hide" });
    return { ok: true, message: "" };
  } catch (err) {
    return { ok: false, message: `Full screen refused by the browser: ${/** @type {Error} */
    err.message ?? err}` };
  }
}
function cellOf(app, el) {
  for (const panel of app.shell.widgets("main")) {
    const path = panel.context?.path;
    const cells = panel.content?.widgets;
    if (!path || !cells || !panel.node.contains(el)) continue;
    const index = cells.findIndex((cell) => cell.node.contains(el));
    if (index >= 0) return { path, index };
  }
  return null;
}
async function popOut(el, app) {
  if (!app?.commands?.hasCommand?.(OUTPUT_VIEW_COMMAND)) return { ok: false, message: POP_OUT_BY_HAND };
  const where = cellOf(app, el);
  if (!where) {
    return { ok: false, message: "This view is not in a notebook's cell (it may already be popped out)." };
  }
  try {
    await app.commands.execute(OUTPUT_VIEW_COMMAND, where);
    return { ok: true, message: "" };
  } catch (err) {
    return { ok: false, message: `JupyterLab could not open the panel: ${/** @type {Error} */
    err.message ?? err}` };
  }
}

// workbench/widget_src/view.js
var HIDE_GRACE_MS = 1e3;
var STATS_INTERVAL_MS = 1e3;
var STATS_PUBLISH_MS = 5e3;
var TOKEN_REFRESH_MIN_INTERVAL_MS = 3e4;
var NOTE_MS = 6e3;
var MIN_ROOM_HEIGHT = 160;
var ROOM_MARGIN = 16;
function scrollerHeight(el) {
  let height = Infinity;
  for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
    const { overflowY } = getComputedStyle(node);
    if ((overflowY === "auto" || overflowY === "scroll") && node.clientHeight > 0) height = node.clientHeight;
  }
  return height;
}
var ScreenView = class {
  /** @param {WidgetModel} model @param {HTMLElement} el */
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.cleanups = [];
    this.monitors = [];
    this.streamMonitor = "all";
    this.frameOrigin = null;
    this.streamInfo = null;
    this.visible = false;
    this.hideTimer = null;
    this.stateNotice = { paused: false, hiddenCount: 0, reason: "" };
    this.linkText = "Not connected yet";
    this.lastRefreshAt = -Infinity;
    this.lastStatsPublishAt = -Infinity;
    this.lastKeyRequestAt = -Infinity;
    this.lastHiddenKey = "";
    this.traits = new TraitPublisher(model);
    this.toolName = "view";
    this.colour = PALETTE[0][1];
    this.note = { text: "", at: 0 };
    this.controlState = { granted: false, customerActive: false, resumeIn: null, graceS: null };
    this.ended = false;
    this.dom = buildLayout(el);
    const { root, canvas } = this.dom;
    this.h264 = void 0;
    this.surface = new ScreenSurface(canvas, {
      onFrameDone: (body, outcome) => this._frameDone(body, outcome),
      onResize: (width, height, key) => this._streamResized(width, height, key)
    });
    this.transform = new ViewTransform(canvas, () => this._streamOrigin());
    this.stats = new StreamStats();
    this.link = new ScreenLink({
      url: model.get("relay_url"),
      sessionId: model.get("session_id"),
      token: model.get("token"),
      onMessage: (msg, payload) => this._onMessage(msg, payload),
      onState: (state, detail) => this._onLinkState(state, detail)
    });
    this.annotations = new Annotations({
      svg: this.dom.marksSvg,
      layer: this.dom.layer,
      info: this.dom.marksInfo,
      transform: this.transform,
      streamSize: () => ({ width: this.surface.width, height: this.surface.height }),
      send: (name, body) => this.link.send(name, body),
      note: (text) => this._note(text),
      refocus: () => root.focus({ preventScroll: true })
    });
    this.previews = this.annotations.previews;
    this.pointer = new PointerRouter(this.dom.viewport, this.transform);
    this.tools = this._makeTools();
    this.control = new ControlMode({
      tool: this.tools.control,
      allowed: () => this.controlState.granted && this.link.live,
      send: (name, body) => this.link.send(name, body),
      toStream: (x, y) => this.transform.clientToStream(x, y),
      switching: () => this.annotations.closeText(false)
    });
    this.pointer.setTool(this.tools.view);
    this._renderTools();
    this._listenAll();
    const observer = new IntersectionObserver((entries) => {
      this.visible = entries[entries.length - 1].isIntersecting;
      this._syncStreaming();
      this._renderWindowModes();
    });
    observer.observe(root);
    this.cleanups.push(() => observer.disconnect());
    const resizes = new ResizeObserver(() => this._sizeCanvas());
    resizes.observe(root);
    this.cleanups.push(() => resizes.disconnect());
    this._listen(document, "visibilitychange", () => this._syncStreaming());
    const statsTimer = setInterval(() => this._refreshStats(), STATS_INTERVAL_MS);
    this.cleanups.push(() => clearInterval(statsTimer));
    this.cleanups.push(() => clearTimeout(this.hideTimer ?? void 0));
    this._applyZoom();
    this._renderWindowModes();
    this._renderMonitors();
    this._renderStatus();
  }
  dispose() {
    this.control.release();
    for (const cleanup of this.cleanups.splice(0).reverse()) cleanup();
    this.pointer.dispose();
    this.link.dispose();
    this.surface.dispose();
    this.previews.clear();
    this.dom.root.remove();
  }
  /** The model's and the DOM's events (undone by dispose). */
  _listenAll() {
    const { model } = this;
    const { root, viewport, monitorSelect, zoomSelect, fullScreenButton, popOutButton, toolbar } = this.dom;
    const restart = () => this.link.restart({ url: model.get("relay_url"), sessionId: model.get("session_id"), token: model.get("token") });
    this._onModel("change:relay_url", restart);
    this._onModel("change:session_id", restart);
    this._onModel("change:token", restart);
    this._onModel("change:monitor", () => {
      this._renderMonitors();
      this._configure();
    });
    this._onModel("change:max_fps", () => this._configure());
    this._onModel("change:zoom", () => this._applyZoom());
    this._onModel("msg:custom", (msg) => this._onKernelMessage(msg));
    this._listen(monitorSelect, "change", () => {
      const value = monitorSelect.value;
      model.set("monitor", value === "all" ? "all" : Number(value));
      model.save_changes();
    });
    this._listen(zoomSelect, "change", () => {
      model.set("zoom", zoomFromValue(zoomSelect.value));
      model.save_changes();
    });
    this._listen(fullScreenButton, "click", async () => {
      const { ok, message } = await toggleFullScreen(root);
      if (!ok) this._note(message);
    });
    this._listen(popOutButton, "click", async () => {
      const app = (
        /** @type {{ jupyterapp?: import("./window_modes.js").LabApp }} */
        /** @type {unknown} */
        window.jupyterapp
      );
      const { ok, message } = await popOut(root, app);
      this._note(ok ? "Opened in a panel of its own, below the notebook." : message);
    });
    this._listen(document, "fullscreenchange", () => {
      this._renderWindowModes();
      this._sizeCanvas();
      if (isFullScreen(root)) root.focus({ preventScroll: true });
    });
    this._listen(window, "resize", () => this._sizeCanvas());
    this._listen(toolbar, "click", (event) => this._onToolbarClick(event));
    this._listen(root, "keydown", (event) => this._onKey(event, true));
    this._listen(root, "keyup", (event) => this._onKey(event, false));
    this._listen(root, "focusout", (event) => {
      if (!root.contains(
        /** @type {Node | null} */
        event.relatedTarget
      )) this.control.release();
    });
    this._listen(viewport, "pointerdown", () => {
      if (!root.contains(document.activeElement)) root.focus({ preventScroll: true });
    });
    this._listen(viewport, "wheel", (event) => this.control.wheel(event), { passive: false });
    this._listen(viewport, "contextmenu", (event) => this.control.contextMenu(event));
  }
  /* -- zoom, monitors, status -- */
  /** @returns {Zoom} */
  _zoom() {
    return this.model.get("zoom") ?? "fit";
  }
  _applyZoom() {
    const { zoomSelect, viewport } = this.dom;
    const zoom = this._zoom();
    const center = this._visibleCenter();
    const value = zoomValue(zoom);
    if (![...zoomSelect.options].some((option) => option.value === value)) {
      zoomSelect.append(element("option", "", { value, textContent: `${Math.round(Number(zoom) * 100)} %` }));
    }
    zoomSelect.value = value;
    this._sizeCanvas();
    if (isPannable(zoom) && center) {
      const scale = this.transform.scale;
      viewport.scrollLeft = center.x * scale - viewport.clientWidth / 2;
      viewport.scrollTop = center.y * scale - viewport.clientHeight / 2;
    }
  }
  /** The stream point at the middle of what is shown, to keep it centred across a zoom change.
   * @returns {Point | null} */
  _visibleCenter() {
    const { canvas, viewport } = this.dom;
    if (!canvas.width) return null;
    const box = viewport.getBoundingClientRect();
    const canvasBox = canvas.getBoundingClientRect();
    const x = (Math.max(box.left, canvasBox.left) + Math.min(box.right, canvasBox.right)) / 2;
    const y = (Math.max(box.top, canvasBox.top) + Math.min(box.bottom, canvasBox.bottom)) / 2;
    return this.transform.clientToStream(x, y);
  }
  /** Where the picture may go (CSS px): the view's width, and the height of what can be seen at
   * once (the notebook's or panel's scrolling box, the window) less the bars above the picture;
   * in full screen, the whole screen less the bars.
   * @returns {Size} */
  _room() {
    const { root, viewport } = this.dom;
    const width = viewport.clientWidth;
    if (isFullScreen(root)) return { width, height: viewport.clientHeight };
    const bars = root.offsetHeight - viewport.offsetHeight;
    const seen = Math.min(scrollerHeight(root), window.innerHeight);
    return { width, height: Math.max(MIN_ROOM_HEIGHT, seen - bars - ROOM_MARGIN) };
  }
  /** Size the picture for the zoom in the room there is (zoom.js); the canvas keeps the stream's
   * own pixels, only its CSS size changes. */
  _sizeCanvas() {
    const { root, canvas, stage, viewport } = this.dom;
    const zoom = this._zoom();
    const pannable = isPannable(zoom);
    root.classList.toggle("wb-screen--pannable", pannable);
    if (!root.isConnected) return;
    const room = this._room();
    viewport.style.maxHeight = pannable && !isFullScreen(root) ? `${room.height}px` : "";
    const { width, height } = pictureSize(
      { width: canvas.width, height: canvas.height },
      room,
      zoom,
      devicePixelRatio || 1
    );
    const size = width && height ? [`${width}px`, `${height}px`] : ["", ""];
    if (stage.style.width === size[0] && canvas.style.height === size[1]) return;
    stage.style.width = size[0];
    canvas.style.width = size[0];
    canvas.style.height = size[1];
  }
  /** The full-screen and pop-out buttons for where the view is now. */
  _renderWindowModes() {
    const { root, fullScreenButton, popOutButton } = this.dom;
    const full = isFullScreen(root);
    root.classList.toggle("wb-screen--fullscreen", full);
    fullScreenButton.textContent = full ? "Exit full screen" : "Full screen";
    fullScreenButton.title = full ? "Back to the notebook (Esc)" : "Show this view on the whole screen (Esc to leave)";
    fullScreenButton.disabled = !full && !canFullScreen(root);
    fullScreenButton.setAttribute("aria-pressed", String(full));
    popOutButton.hidden = root.isConnected && !root.closest(".jp-Notebook");
  }
  _renderMonitors() {
    const { monitorSelect } = this.dom;
    const current = String(this.model.get("monitor"));
    monitorSelect.replaceChildren(
      ...monitorOptions(this.monitors, current).map(([value, text]) => element("option", "", { value, textContent: text }))
    );
    monitorSelect.value = current;
    monitorSelect.disabled = this.monitors.length < 2;
  }
  _renderHidden() {
    const { width, height } = this.surface;
    const hidden = this.surface.hidden;
    const key = JSON.stringify([width, height, hidden]);
    if (key === this.lastHiddenKey) return;
    this.lastHiddenKey = key;
    this.dom.hiddenLayer.replaceChildren(
      ...hiddenBoxes(hidden, width, height).map(({ text, style }) => element("div", "wb-screen-hidden", { textContent: text, style }))
    );
  }
  _renderNotice() {
    const { notice } = this.dom;
    notice.textContent = noticeText(this.stateNotice);
    notice.hidden = notice.textContent === "";
  }
  /** @param {StatsSnapshot | null} [snapshot] */
  _renderStatus(snapshot = null) {
    const { statusLine } = this.dom;
    const text = statusText(this.linkText, this.controlState, this.link.live, snapshot);
    if (statusLine.textContent === text) return;
    statusLine.textContent = text;
    statusLine.title = text;
  }
  /* -- streaming -- */
  _syncStreaming() {
    const shouldStream = this.visible && document.visibilityState !== "hidden" && this.dom.root.isConnected;
    if (shouldStream) {
      clearTimeout(this.hideTimer ?? void 0);
      this.hideTimer = null;
      this.link.start();
    } else if (this.link.wanted && this.hideTimer === null) {
      this.hideTimer = setTimeout(() => {
        this.hideTimer = null;
        this.link.stop();
      }, HIDE_GRACE_MS);
    }
  }
  /** @param {LinkState} state @param {LinkDetail} detail */
  _onLinkState(state, detail) {
    switch (state) {
      case "connecting":
        this.ended = false;
        this.linkText = "Connecting…";
        break;
      case "live":
        this.linkText = "Live";
        this.lastStatsPublishAt = -Infinity;
        this.stats.reset();
        this.surface.reset();
        this._configure();
        this._requestKeyFrame(true);
        break;
      case "retrying": {
        this.surface.reset();
        const why = detail.wasWelcomed ? "Connection lost" : `Cannot reach the relay at ${this.link.credentials.url}`;
        this.linkText = `${why}; retrying in ${Math.max(1, Math.round((detail.delay ?? 0) / 1e3))} s`;
        break;
      }
      case "refused":
        this.linkText = `The relay refused this view (${detail.message ?? "unauthorized"})`;
        this._refreshToken();
        break;
      case "ended":
        this.linkText = "The session has ended.";
        this._endSession();
        break;
      default:
        this.surface.reset();
        this.linkText = "Paused while not visible";
    }
    if (state !== "live") this._setControl(false);
    this._renderTools();
    const idle = state === "live" ? {} : IDLE_TRAITS;
    this._publish({ connected: state === "live", status: this.linkText, ...idle });
    this._renderStatus();
  }
  /** @param {Message} msg @param {Uint8Array} payload */
  _onMessage(msg, payload) {
    if (msg.type === "bye") {
      this.linkText = `The relay closed this view: ${msg.reason}`;
      this._renderStatus();
      return;
    }
    if (msg.type === "error") {
      console.warn(`screen: relay error ${msg.code}: ${msg.message}`);
      return;
    }
    if (msg.type !== "event" || typeof msg.name !== "string" || typeof msg.body !== "object" || !msg.body) return;
    const body = (
      /** @type {Record<string, any>} */
      msg.body
    );
    switch (msg.name) {
      case "screen.frame":
        this.stats.frameReceived(payload.byteLength);
        this.surface.push(body, payload);
        break;
      case "screen.info":
        this.monitors = monitorsFrom(body);
        this.streamInfo = streamFrom(body);
        this._renderMonitors();
        this._publish({ monitors: monitorsTrait(this.monitors) });
        break;
      case "screen.state":
        this.stateNotice = stateNoticeFrom(body);
        this._renderNotice();
        this._publish({ paused: this.stateNotice.paused, hidden_count: this.stateNotice.hiddenCount });
        break;
      case "screen.marks":
        this.annotations.onMarks(body);
        break;
      case "screen.control":
        this.controlState = controlStateFrom(body);
        if (!this.controlState.granted) this._setControl(false);
        this._renderTools();
        this._renderStatus();
        break;
      default:
        break;
    }
  }
  /** @param {FrameBody} body @param {FrameOutcome} outcome */
  _frameDone(body, { skipped, error }) {
    if (error) {
      console.warn(
        "screen: frame not drawn:",
        /** @type {Error} */
        error.message ?? error
      );
      this._requestKeyFrame(false);
    }
    if (!skipped && !error) {
      this.stats.frameDrawn(body.captured_at);
      if (body.monitor !== void 0) this.streamMonitor = body.monitor;
      this.frameOrigin = frameOriginFrom(body);
      if (typeof body.paused === "boolean" && body.paused !== this.stateNotice.paused) {
        this.stateNotice = { ...this.stateNotice, paused: body.paused };
        this._renderNotice();
        this._publish({ paused: body.paused });
      }
      if (this.dom.stage.hidden) {
        this.dom.stage.hidden = false;
        this.dom.placeholder.hidden = true;
      }
      this._renderHidden();
      this.previews.frameDrawn(body.captured_at);
    }
    if (Number.isInteger(body.seq) && this.link.send("screen.ack", { seq: body.seq })) this.stats.ackSent();
  }
  /** @param {number} width @param {number} height @param {boolean} key */
  _streamResized(width, height, key) {
    this._sizeCanvas();
    this.previews.resize(width, height);
    if (!key) this._requestKeyFrame(true);
  }
  _configure() {
    const monitor = this.model.get("monitor");
    const h264 = this.h264 === true;
    this.link.send("screen.configure", { monitor, max_fps: this.model.get("max_fps"), copy: true, h264 });
    if (this.h264 === void 0) {
      this.h264 = null;
      h264Supported().then((supported) => {
        this.h264 = supported;
        if (supported) this._configure();
      });
    }
  }
  /** @param {boolean} force */
  _requestKeyFrame(force) {
    const now = performance.now();
    if (!force && now - this.lastKeyRequestAt < 1e3) return;
    if (this.link.send("screen.key_request", {})) this.lastKeyRequestAt = now;
  }
  /** @returns {Point} */
  _streamOrigin() {
    return streamOrigin(this.streamMonitor, this.streamInfo, this.monitors, this.frameOrigin);
  }
  _refreshStats() {
    this.previews.sweep();
    if (this.note.text && performance.now() - this.note.at > NOTE_MS) this._note("");
    const snapshot = this.stats.snapshot();
    this._renderStatus(snapshot);
    if (!this.link.live || performance.now() - this.lastStatsPublishAt < STATS_PUBLISH_MS) return;
    this.lastStatsPublishAt = performance.now();
    const round1 = (value) => Math.round(value * 10) / 10;
    this._publish({
      fps: round1(snapshot.fps),
      kbps: Math.round(snapshot.kbps),
      latency_ms: snapshot.latencyMs === null ? null : round1(snapshot.latencyMs),
      latency_kind: snapshot.latencyKind
    });
  }
  /* -- marks and control -- */
  _makeTools() {
    const { viewport, canvas } = this.dom;
    const annotations = this.annotations;
    const host = {
      contains: (point) => this.transform.containsStream(point),
      clamp: (point) => ({
        x: Math.min(Math.max(point.x, 0), Math.max(0, canvas.width - 1)),
        y: Math.min(Math.max(point.y, 0), Math.max(0, canvas.height - 1))
      }),
      capture: (event) => viewport.setPointerCapture?.(event.pointerId),
      release: (event) => {
        if (viewport.hasPointerCapture?.(event.pointerId)) viewport.releasePointerCapture(event.pointerId);
      },
      style: (tool) => ({ colour: this.colour, width: DEFAULT_WIDTHS[tool] }),
      newId: () => annotations.newId(),
      draft: (stroke) => this.previews.draw(stroke),
      discard: (id) => this.previews.drop(id),
      finish: (stroke) => annotations.sendMark(stroke),
      laser: (stroke) => annotations.sendLaser(stroke),
      openText: (point) => annotations.openText(point, this.colour),
      eraseAt: (point) => annotations.eraseAt(point),
      send: (name, body) => this.link.send(name, body),
      toDesktop: (point) => this.transform.streamToDesktop(point.x, point.y)
    };
    return {
      view: createPanTool(viewport, () => isPannable(this._zoom())),
      pen: createDrawTool("pen", host),
      arrow: createDrawTool("arrow", host),
      rect: createDrawTool("rect", host),
      ellipse: createDrawTool("ellipse", host),
      highlighter: createDrawTool("highlighter", host),
      laser: createLaserTool(host),
      text: createTextTool(host),
      eraser: createEraserTool(host),
      control: createControlTool(host)
    };
  }
  /** @param {string} name */
  _setTool(name) {
    if (!Object.hasOwn(this.tools, name) || name === "control" || this.ended && name !== "view") return;
    const tool = (
      /** @type {ToolName} */
      name
    );
    this.annotations.closeText(false);
    if (this.control.on) this._setControl(false);
    this.toolName = tool;
    this.pointer.setTool(this.tools[tool]);
    this._renderTools();
  }
  /** Control on or off (control_mode.js); on only while the customer grants it and the link is live.
   * @param {boolean} on */
  _setControl(on) {
    if (!this.control.set(on)) return;
    this.pointer.setTool(this.control.on ? this.tools.control : this.tools[this.toolName]);
    if (this.control.on) this.dom.root.focus({ preventScroll: true });
    this._renderTools();
    this._renderStatus();
  }
  _renderTools() {
    const controlOn = this.control.on;
    renderToolbar(this.dom, {
      tool: controlOn ? "control" : this.toolName,
      colour: this.colour,
      granted: this.controlState.granted,
      live: this.link?.live ?? false,
      controlOn,
      ended: this.ended
    });
  }
  /** The session is over: nothing can mark or control the customer's screen any more; the last
   * picture stays to look at. */
  _endSession() {
    this.ended = true;
    this.annotations.closeText(false);
    this.previews.clear();
    this.toolName = "view";
    this.pointer.setTool(this.tools.view);
  }
  /** @param {string} text */
  _note(text) {
    this.note = { text, at: performance.now() };
    this.dom.noteLine.textContent = text;
  }
  /** @param {MouseEvent} event */
  _onToolbarClick(event) {
    const button = (
      /** @type {Element | null} */
      event.target?.closest?.("button")
    );
    if (!button || button.disabled) return;
    if (button.dataset.tool) this._setTool(button.dataset.tool);
    else if (button.dataset.colour) this._setColour(button.dataset.colour);
    else if (button === this.dom.undoButton) this.annotations.undo();
    else if (button === this.dom.clearButton) this.annotations.clear();
    else if (button === this.dom.controlButton) this._setControl(!this.control.on);
  }
  /** @param {string} colour */
  _setColour(colour) {
    this.colour = colour;
    this._renderTools();
  }
  /** @param {KeyboardEvent} event @param {boolean} down */
  _onKey(event, down) {
    const target = (
      /** @type {Element} */
      event.target
    );
    if (target !== this.dom.root && target.matches?.("input, textarea, select")) {
      event.stopPropagation();
      return;
    }
    if (this.control.key(event, down) || !down) return;
    const action = shortcutFor(event);
    if (action) {
      event.preventDefault();
      event.stopPropagation();
      const [verb, argument] = action.split(":");
      if (this.ended) return;
      if (verb === "tool") this._setTool(argument);
      else if (verb === "colour") this._setColour(PALETTE[Number(argument)][1]);
      else if (verb === "undo") this.annotations.undo();
      else if (verb === "clear") this.annotations.clear();
    } else if (!(event.ctrlKey || event.metaKey || event.altKey || event.key === "Tab" || event.key === "Escape" || event.shiftKey && event.key === "Enter")) {
      event.stopPropagation();
    }
  }
  /* -- kernel -- */
  _refreshToken() {
    if (!this.model.get("can_refresh_token")) {
      this.linkText += ". Re-run the cell for a new viewing token.";
      return;
    }
    const now = performance.now();
    if (now - this.lastRefreshAt < TOKEN_REFRESH_MIN_INTERVAL_MS) return;
    this.lastRefreshAt = now;
    this.linkText += "; asking the kernel for a new token (it answers once the running cell ends)…";
    this.model.send({ type: "refresh_token" });
  }
  /** @param {KernelMessage | undefined} msg */
  _onKernelMessage(msg) {
    if (msg?.type === "key_request") {
      this._requestKeyFrame(true);
    } else if (msg?.type === "token") {
      if (msg.ok) {
        if (this.link.terminal === "refused") this.link.restart({ token: this.model.get("token") });
      } else {
        this.linkText = `No new viewing token: ${msg.message ?? "the kernel could not get one"}`;
        this._renderStatus();
      }
    }
  }
  /** Report state to the kernel (readable as traits); only changed values, one message.
   * @param {Partial<Traits>} values */
  _publish(values) {
    this.traits.publish(values);
  }
  /** @param {string} event @param {(...args: any[]) => void} handler */
  _onModel(event, handler) {
    this.model.on(event, handler);
    this.cleanups.push(() => this.model.off(event, handler));
  }
  /**
   * @template {keyof DocumentEventMap} E
   * @param {HTMLElement | Document | Window} target
   * @param {E} event
   * @param {(event: DocumentEventMap[E]) => void} handler
   * @param {AddEventListenerOptions} [options]
   */
  _listen(target, event, handler, options = void 0) {
    const listener = (
      /** @type {EventListener} */
      handler
    );
    target.addEventListener(event, listener, options);
    this.cleanups.push(() => target.removeEventListener(event, listener, options));
  }
};

// workbench/widget_src/index.js
function render({ model, el }) {
  const view = new ScreenView(model, el);
  return () => view.dispose();
}
var index_default = { render };
export {
  DEFAULT_WIDTHS,
  MarkPreviews,
  PALETTE,
  PointerRouter,
  ScreenLink,
  ScreenSurface,
  StreamStats,
  TOOL_KEYS,
  TOOL_LABELS,
  ViewTransform,
  WheelNotches,
  backoffDelays,
  controlButton,
  createControlTool,
  createDrawTool,
  createEraserTool,
  createLaserTool,
  createPanTool,
  createTextTool,
  decodeMessage,
  decodeRects,
  index_default as default,
  desktopPixel,
  encodeBinary,
  eventMessage,
  helloMessage,
  isTextKey,
  keyEvent,
  markAt,
  markDistance,
  markMessage,
  markShapes,
  markToUndo,
  modifiersOf,
  shortcutFor,
  textSize
};
