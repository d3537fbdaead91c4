// The technician's live view of the customer's screen: one hand-written ES module, no build.
//
// The kernel only hands over the relay's URL, the session id and a viewing token; this module
// opens its own websocket to the relay (docs/screen-protocol.md) so that frames, acks and,
// later, marks and input never wait on the kernel (a running cell blocks browser→kernel
// messages) nor on Nagle.
//
// Sections, each usable on its own:
//   1. Wire         WB binary frames and event messages (pure).
//   2. Backoff      reconnect delays (pure generator).
//   3. ScreenLink   the websocket: hello/welcome, reconnect with backoff, stop; no drawing.
//   4. ScreenSurface  decodes frames and draws them in order on a canvas kept at the stream's
//                     own resolution; reports each frame done so the caller can ack it.
//   5. ViewTransform  client px ⇄ stream px ⇄ desktop px, whatever the zoom or scroll.
//   6. StreamStats  frames/s, latency, bandwidth.
//   7. Marks        annotation marks: wire form, SVG shapes, hit test, previews (the stream
//                   shows finished marks; previews only bridge the time until it does).
//   8. Control input  DOM keys, buttons and wheel → control.* events (pure).
//   9. Pointer tools  one active tool receives pointer events already mapped to stream px:
//                     pan, the drawing tools, laser, text, eraser, control.
//  10. ScreenView   the DOM (toolbars, status, viewport, overlay layer), shortcuts, visibility,
//                   the model.
//  11. render()     anywidget's entry point; returns the cleanup.

const PROTOCOL_VERSION = 1;
const DEFAULT_HIDDEN_LABEL = "Hidden by the customer";
// The agent's own fill (agent/screen/hidden.py FILL_BGRA), so the canvas equals its picture.
const HIDDEN_FILL = "#303030";
const HELLO_TIMEOUT_MS = 10_000;
// Leaving the screen for less than this (scrolling past, a quick tab switch) keeps the stream.
const HIDE_GRACE_MS = 1_000;
const STATS_INTERVAL_MS = 1_000;
const STATS_WINDOW_MS = 2_000;
// A connection that lived this long resets the backoff; a relay that welcomes and drops at
// once must not be hammered.
const STABLE_CONNECTION_MS = 5_000;
const TOKEN_REFRESH_MIN_INTERVAL_MS = 30_000;
// Above this, capture→draw "latency" is clock skew, not delay (clocks are not comparable).
const PLAUSIBLE_LATENCY_MS = 5_000;

/* ------------------------------------------------------------------ 1. Wire */

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** Decode one websocket message: text JSON, or `"WB" | version | u32 BE length | JSON | payload`.
 * Returns {msg, payload} (payload a Uint8Array, empty for text). Throws on a malformed frame. */
export function decodeMessage(data) {
  let msg;
  let payload = new Uint8Array(0);
  if (typeof data === "string") {
    msg = JSON.parse(data);
  } else {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (bytes.byteLength < 7 || bytes[0] !== 0x57 || bytes[1] !== 0x42) {
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

/** Encode a binary frame (the inverse of decodeMessage); used by tests and, later, uploads. */
export function encodeBinary(header, payload = new Uint8Array(0)) {
  const json = textEncoder.encode(JSON.stringify({ v: PROTOCOL_VERSION, ...header }));
  const out = new Uint8Array(7 + json.byteLength + payload.byteLength);
  out.set([0x57, 0x42, PROTOCOL_VERSION], 0);
  new DataView(out.buffer).setUint32(3, json.byteLength, false);
  out.set(json, 7);
  out.set(payload, 7 + json.byteLength);
  return out;
}

export function eventMessage(name, body = {}) {
  return JSON.stringify({ v: PROTOCOL_VERSION, type: "event", name, body });
}

export function helloMessage(sessionId, token) {
  return JSON.stringify({ v: PROTOCOL_VERSION, type: "hello", role: "viewer", session_id: sessionId, token });
}

/* --------------------------------------------------------------- 2. Backoff */

/** Reconnect delays in ms: initial, ×factor each time, capped, with ±jitter so that many
 * viewers dropped together do not come back together. */
export function* backoffDelays({ initial = 250, factor = 2, max = 10_000, jitter = 0.25, random = Math.random } = {}) {
  let delay = initial;
  for (;;) {
    yield Math.round(delay * (1 - jitter + 2 * jitter * random()));
    delay = Math.min(max, delay * factor);
  }
}

/* ------------------------------------------------------------ 3. ScreenLink */

/** The viewer's websocket to the relay. States reported through onState(state, detail):
 *   "idle"       not wanted (view hidden or closed)
 *   "connecting" socket opening / hello sent
 *   "live"       welcomed; events flow (onMessage)
 *   "retrying"   dropped; reconnects after detail.delay ms
 *   "refused"    the relay refused the token (terminal until restart() with new credentials)
 *   "ended"      the session is over (terminal)
 * It knows nothing of screens: annotation and control events go through send() too. */
export class ScreenLink {
  constructor({ url, sessionId, token, onMessage, onState, WebSocketImpl = globalThis.WebSocket }) {
    this.credentials = { url, sessionId, token };
    this.onMessage = onMessage;
    this.onState = onState;
    this.WebSocketImpl = WebSocketImpl;
    this.ws = null;
    this.wanted = false;
    this.welcomedAt = 0;
    this.terminal = null;
    this.retryTimer = null;
    this.helloTimer = null;
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
    this._close(1000, "view closed");
    if (!this.terminal) this._setState("idle");
  }

  /** New URL, session or token: drop the current socket, forget a refusal, and reconnect if wanted. */
  restart(credentials = {}) {
    Object.assign(this.credentials, credentials);
    this.terminal = null;
    this.delays = backoffDelays();
    this._clearRetry();
    this._close(1000, "new credentials");
    if (this.wanted) this._connect();
    else this._setState("idle");
  }

  /** Send an event to the agent through the relay; false when not live (the caller drops it). */
  send(name, body = {}) {
    if (!this.live || this.ws.readyState !== 1) return false;
    this.ws.send(eventMessage(name, body));
    return true;
  }

  /** Close for good; no callback fires afterwards. */
  dispose() {
    this.onMessage = () => {};
    this.onState = () => {};
    this.stop();
  }

  _connect() {
    const { url, sessionId, token } = this.credentials;
    let ws;
    try {
      ws = new this.WebSocketImpl(url);
    } catch (err) {
      // A malformed URL is not going to get better by retrying.
      this.terminal = "refused";
      this._setState("refused", { message: `cannot open ${url}: ${err.message}` });
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.welcomedAt = 0;
    this._setState("connecting");
    ws.onopen = () => {
      if (ws !== this.ws) return;
      ws.send(helloMessage(sessionId, token));
      this.helloTimer = setTimeout(() => ws === this.ws && ws.close(4000, "no welcome"), HELLO_TIMEOUT_MS);
    };
    ws.onmessage = (event) => this._onData(ws, event.data);
    ws.onclose = (event) => this._onClose(ws, event);
    ws.onerror = () => {}; // a close event always follows
  }

  _onData(ws, data) {
    if (ws !== this.ws) return;
    let decoded;
    try {
      decoded = decodeMessage(data);
    } catch (err) {
      console.warn("screen: dropped a malformed message:", err.message);
      return;
    }
    const { msg, payload } = decoded;
    if (msg.type === "error" && (msg.code === "unauthorized" || msg.code === "session_ended")) {
      this.terminal = msg.code === "unauthorized" ? "refused" : "ended";
      this._close(1000, msg.code);
      this._setState(this.terminal, { code: msg.code, message: msg.message });
      return;
    }
    if (!this.welcomedAt) {
      if (msg.type === "welcome") {
        clearTimeout(this.helloTimer);
        this.welcomedAt = performance.now();
        this.viewerId = msg.viewer_id ?? null;
        this._setState("live", { viewerId: this.viewerId });
      } else if (msg.type === "error") {
        ws.close(4001, "hello refused");
      }
      return;
    }
    this.onMessage(msg, payload);
  }

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
      // already closing
    }
  }

  _clearRetry() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  _setState(state, detail = {}) {
    this.state = state;
    this.onState(state, detail);
  }
}

/* --------------------------------------------------------- 4. ScreenSurface */

function closeImages(images) {
  for (const image of images ?? []) image?.close?.();
}

function isInt(value) {
  return Number.isInteger(value) && value >= 0;
}

/** "raw" pixels are B,G,R,X bytes (docs/screen-protocol.md); ImageData wants R,G,B,A. */
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

/** Start decoding every rect of a frame; resolves to one drawable per rect: an ImageBitmap
 * (jpeg, png), an ImageData (raw), or {copyFrom: {x, y}} for a "copy" rect (drawn from the
 * canvas itself). Rejects, closing what was decoded, on any error. */
export function decodeRects(body, payload) {
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
        return createImageBitmap(new Blob([bytes], { type: `image/${rect.codec}` }));
      case "raw":
        if (bytes.byteLength !== rect.w * rect.h * 4) return Promise.reject(new Error("raw rect of wrong size"));
        return Promise.resolve(bgrxToImageData(bytes, rect.w, rect.h));
      case "copy": {
        const { sx, sy } = rect;
        const inside = isInt(sx) && isInt(sy) && sx + rect.w <= body.width && sy + rect.h <= body.height;
        if (!inside || rect.len !== 0) return Promise.reject(new Error("copy rect from outside the frame"));
        return Promise.resolve({ copyFrom: { x: sx, y: sy } });
      }
      default:
        return Promise.reject(new Error(`unknown codec ${rect.codec}`));
    }
  });
  return Promise.allSettled(tasks).then((results) => {
    const failed = results.find((result) => result.status === "rejected");
    const images = results.map((result) => (result.status === "fulfilled" ? result.value : null));
    if (failed) {
      closeImages(images);
      throw failed.reason;
    }
    return images;
  });
}

/** The picture: a canvas whose backing store is the stream's own pixel space (so getImageData
 * reads stream pixels and zoom is only CSS). Frames are decoded in parallel as they arrive and
 * drawn strictly in order (they are deltas); a key frame supersedes the frames queued before it.
 * onFrameDone(body, {skipped, error}) fires once per frame, in order: the caller acks it. */
export class ScreenSurface {
  constructor(canvas, { onFrameDone = () => {}, onResize = () => {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.onFrameDone = onFrameDone;
    this.onResize = onResize;
    this.queue = [];
    this.pumping = false;
    this.generation = 0;
    this.hidden = [];
    this.framesDrawn = 0;
  }

  get width() {
    return this.canvas.width;
  }

  get height() {
    return this.canvas.height;
  }

  push(body, payload) {
    const job = { body, generation: this.generation, skipped: false, images: decodeRects(body, payload) };
    job.images.catch(() => {}); // handled in _pump; avoid an unhandled rejection meanwhile
    if (body.key) for (const queued of this.queue) queued.skipped = true;
    this.queue.push(job);
    this._pump();
  }

  /** Forget queued frames (a new connection starts a new stream); the picture stays. */
  reset() {
    this.generation += 1;
    for (const job of this.queue) job.images.then(closeImages, () => {});
    this.queue = [];
  }

  dispose() {
    this.reset();
    this.onFrameDone = () => {};
    this.onResize = () => {};
  }

  async _pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length) {
        const job = this.queue[0];
        if (job.skipped) {
          this.queue.shift();
          job.images.then(closeImages, () => {});
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
          continue; // reset() already emptied the queue
        }
        this.queue.shift();
        if (!error) {
          try {
            this._draw(job.body, images);
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

  _draw(body, images) {
    const { canvas, ctx } = this;
    if (isInt(body.width) && isInt(body.height) && (canvas.width !== body.width || canvas.height !== body.height)) {
      canvas.width = body.width; // reallocates and clears the backing store
      canvas.height = body.height;
      this.onResize(body.width, body.height, Boolean(body.key));
    }
    const rects = Array.isArray(body.rects) ? body.rects : [];
    rects.forEach((rect, index) => {
      const image = images[index];
      if (image instanceof ImageData) {
        ctx.putImageData(image, rect.x, rect.y);
      } else if (image.copyFrom) {
        // Drawing a canvas onto itself behaves as if the source were copied first, so overlapping
        // source and destination (a scroll) come out right.
        const { x, y } = image.copyFrom;
        ctx.drawImage(canvas, x, y, rect.w, rect.h, rect.x, rect.y, rect.w, rect.h);
      } else {
        ctx.drawImage(image, rect.x, rect.y);
      }
    });
    // Every frame carries the whole current list; none means nothing is hidden.
    const hidden = Array.isArray(body.hidden) ? body.hidden : [];
    this.hidden = hidden.filter((area) => [area.x, area.y, area.w, area.h].every(isInt));
    // The agent already filled these pixels before encoding; painting them again here means a
    // stale copy can never show through, whatever the agent's dirty-tile logic missed.
    ctx.fillStyle = HIDDEN_FILL;
    for (const area of this.hidden) {
      ctx.fillRect(area.x, area.y, area.w, area.h);
    }
    this.framesDrawn += 1;
  }
}

/* --------------------------------------------------------- 5. ViewTransform */

/** Maps between client (CSS) px, stream px (the canvas backing store) and desktop px (the
 * customer's virtual screen). Reads the canvas box on each call, so it is right whatever the
 * zoom, the scroll, or the cell's width. Marks and pointer events use it both ways. */
export class ViewTransform {
  constructor(canvas, streamOrigin = () => ({ x: 0, y: 0 })) {
    this.canvas = canvas;
    this.streamOrigin = streamOrigin;
  }

  /** CSS px per stream px (1 in 1:1 on a 1× display; < 1 when fitted to a narrow cell). */
  get scale() {
    const box = this.canvas.getBoundingClientRect();
    return this.canvas.width ? box.width / this.canvas.width : 1;
  }

  clientToStream(clientX, clientY) {
    const box = this.canvas.getBoundingClientRect();
    const sx = box.width ? this.canvas.width / box.width : 1;
    const sy = box.height ? this.canvas.height / box.height : 1;
    return { x: (clientX - box.left) * sx, y: (clientY - box.top) * sy };
  }

  streamToClient(x, y) {
    const box = this.canvas.getBoundingClientRect();
    const sx = this.canvas.width ? box.width / this.canvas.width : 1;
    const sy = this.canvas.height ? box.height / this.canvas.height : 1;
    return { x: box.left + x * sx, y: box.top + y * sy };
  }

  /** Stream px → desktop px: the stream's origin is the shown monitor's corner (or the virtual
   * screen's for "all"). Control events are sent in desktop px. */
  streamToDesktop(x, y) {
    const origin = this.streamOrigin();
    return { x: x + origin.x, y: y + origin.y };
  }

  desktopToStream(x, y) {
    const origin = this.streamOrigin();
    return { x: x - origin.x, y: y - origin.y };
  }

  containsStream(point) {
    return point.x >= 0 && point.y >= 0 && point.x < this.canvas.width && point.y < this.canvas.height;
  }
}

/* ----------------------------------------------------------- 6. StreamStats */

/** Frames/s and kbit/s over a sliding window; latency as capture→draw when the agent's clock is
 * comparable to ours (one machine, or synchronised), else as ack→next-frame round trip. */
export class StreamStats {
  constructor(now = () => performance.now()) {
    this.now = now;
    this.reset();
  }

  reset() {
    this.since = this.now();
    this.received = []; // [t, bytes]
    this.drawn = []; // [t, captureLatency | null]
    this.roundTrips = []; // [t, ms]
    this.lastAckAt = null;
  }

  frameReceived(bytes) {
    const t = this.now();
    this.received.push([t, bytes]);
    if (this.lastAckAt !== null) {
      this.roundTrips.push([t, t - this.lastAckAt]);
      this.lastAckAt = null;
    }
  }

  frameDrawn(capturedAtEpochMs) {
    const latency = Number.isFinite(capturedAtEpochMs)
      ? performance.timeOrigin + performance.now() - capturedAtEpochMs
      : null;
    this.drawn.push([this.now(), latency]);
  }

  ackSent() {
    this.lastAckAt = this.now();
  }

  snapshot() {
    const t = this.now();
    const cutoff = t - STATS_WINDOW_MS;
    for (const list of [this.received, this.drawn, this.roundTrips]) {
      while (list.length && list[0][0] <= cutoff) list.shift();
    }
    const span = Math.max(1, Math.min(STATS_WINDOW_MS, t - this.since));
    const fps = (this.drawn.length * 1000) / span;
    const kbps = (this.received.reduce((sum, [, bytes]) => sum + bytes, 0) * 8) / span;
    const latencies = this.drawn.map(([, latency]) => latency);
    let latencyMs = null;
    let latencyKind = "";
    if (latencies.length && latencies.every((l) => l !== null && l >= -1 && l < PLAUSIBLE_LATENCY_MS)) {
      latencyMs = Math.max(0, median(latencies));
      latencyKind = "capture";
    } else if (this.roundTrips.length) {
      latencyMs = Math.min(...this.roundTrips.map(([, ms]) => ms));
      latencyKind = "rtt";
    }
    return { fps, kbps, latencyMs, latencyKind };
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/* ------------------------------------------------------------------ 7. Marks */

// Marks travel in the customer's desktop px (docs/control-protocol.md) and are drawn on the
// customer's screen by the agent's overlay, which the stream then shows: the view never keeps a
// copy of a finished mark (it would show twice). It only previews a mark while it is drawn, and
// until a frame captured after the agent drew it has been drawn here (screen.marks `shown_at`).

/** The palette, [name, colour]; keys 1…6 pick them. Names match the agent's words to the customer. */
export const PALETTE = [
  ["red", "#e53935"], ["yellow", "#fdd835"], ["green", "#43a047"], ["blue", "#1e88e5"],
  ["black", "#000000"], ["white", "#ffffff"],
];
/** Stroke width per tool, desktop px (agent/annotate/model.py's defaults). */
export const DEFAULT_WIDTHS = { pen: 4, arrow: 4, rect: 4, ellipse: 4, highlighter: 18, text: 5, laser: 6 };
/** Tools by shortcut key (no modifier). "view" pans at 1:1; "eraser" removes the mark clicked. */
export const TOOL_KEYS = {
  v: "view", p: "pen", a: "arrow", r: "rect", e: "ellipse", h: "highlighter", t: "text", l: "laser", x: "eraser",
};
export const TOOL_LABELS = {
  view: "View", pen: "Pen", arrow: "Arrow", rect: "Rectangle", ellipse: "Ellipse", highlighter: "Highlighter",
  text: "Text", laser: "Laser", eraser: "Eraser",
};
// The agent's limits and conventions (agent/annotate/model.py, render.py).
const MAX_STROKE_POINTS = 2000;
const MAX_LASER_POINTS = 64;
const MAX_TEXT_LENGTH = 200;
const TEXT_SIZE_PER_WIDTH = 4;
const LASER_SECONDS = 1.5;
const LASER_SEND_INTERVAL_MS = 100;
const LASER_TRAIL_MS = 300;
// A preview the agent never confirmed (refused, link lost, no frames) goes after this.
const PREVIEW_TIMEOUT_MS = 4_000;
// Pen points closer than this (stream px) add nothing.
const MIN_POINT_DISTANCE = 2;
// Shorter drags of the two-point tools are taken as a slip, not a mark.
const MIN_SHAPE_SIZE = 3;

/** The desktop pixel under a pointer at stream position (x, y) (pixel n spans [n, n + 1)). */
export function desktopPixel(toDesktop, x, y) {
  const d = toDesktop(x, y);
  return { x: Math.floor(d.x), y: Math.floor(d.y) };
}

/** A stroke in stream px → the wire mark in desktop px (whole pixels). */
export function markMessage(stroke, toDesktop) {
  const mark = {
    id: stroke.id,
    tool: stroke.tool,
    points: stroke.points.map((p) => {
      const d = desktopPixel(toDesktop, p.x, p.y);
      return [d.x, d.y];
    }),
    colour: stroke.colour,
    width: stroke.width,
  };
  if (stroke.tool === "text") mark.text = stroke.text;
  return mark;
}

export function textSize(width) {
  return Math.max(12, Math.min(96, TEXT_SIZE_PER_WIDTH * width));
}

function inkFor(colour) {
  const value = parseInt(colour.slice(1), 16);
  const luminance = 0.299 * (value >> 16) + 0.587 * ((value >> 8) & 255) + 0.114 * (value & 255);
  return luminance > 150 ? "#000000" : "#ffffff";
}

/** How a mark looks, as SVG [tag, attributes, text?] triples in the mark's own units (pure, so
 * it is testable without a DOM). Same geometry as the agent's renderer, so a preview sits where
 * the real mark will. */
export function markShapes(mark) {
  const { tool, colour, width } = mark;
  const pts = mark.points.map((p) => (Array.isArray(p) ? { x: p[0], y: p[1] } : p));
  const line = { fill: "none", stroke: colour, "stroke-width": width, "stroke-linecap": "round",
                 "stroke-linejoin": "round" };
  const list = (points) => points.map((p) => `${p.x},${p.y}`).join(" ");
  switch (tool) {
    case "pen":
    case "highlighter":
      return [["polyline", { ...line, points: list(pts.length > 1 ? pts : [pts[0], pts[0]]),
                             ...(tool === "highlighter" ? { opacity: 0.5 } : {}) }]];
    case "laser":
      return [
        ["polyline", { ...line, "stroke-width": Math.max(2, width >> 1), points: list(pts) }],
        ["circle", { cx: pts.at(-1).x, cy: pts.at(-1).y, r: width + 3, fill: colour }],
      ];
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

const SVG_NS = "http://www.w3.org/2000/svg";

function svgElement(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function distanceToSegment(x, y, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const t = dx || dy ? Math.max(0, Math.min(1, ((x - a.x) * dx + (y - a.y) * dy) / (dx * dx + dy * dy))) : 0;
  return Math.hypot(x - (a.x + t * dx), y - (a.y + t * dy));
}

/** How far (desktop px) a wire mark's drawing is from (x, y); 0 inside a text label. */
export function markDistance(mark, x, y) {
  const pts = mark.points.map(([px, py]) => ({ x: px, y: py }));
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

/** The newest mark (not a laser) drawn within reach of (x, y), desktop px; null if none. */
export function markAt(marks, x, y, reach = 8) {
  for (const mark of [...marks].reverse()) {
    if (mark.tool !== "laser" && markDistance(mark, x, y) <= reach + mark.width / 2) return mark;
  }
  return null;
}

/** What undo removes: the newest mark this view drew that is still on screen, else the newest one. */
export function markToUndo(marks, ownIds) {
  const shown = marks.filter((mark) => mark.tool !== "laser");
  const ids = new Set(shown.map((mark) => mark.id));
  const own = [...ownIds].reverse().find((id) => ids.has(id));
  return own ?? shown.at(-1)?.id ?? null;
}

/** Previews of marks being drawn or on their way, in an SVG whose viewBox is the stream's px.
 * A preview goes once the agent confirmed its mark (screen.marks) and a frame captured after the
 * agent drew it has been drawn, or after PREVIEW_TIMEOUT_MS in any case. Lasers fade by themselves. */
export class MarkPreviews {
  constructor(svg, now = () => performance.now()) {
    this.svg = svg;
    this.now = now;
    this.items = new Map(); // id -> {node, state: "draft"|"sent"|"confirmed", since, shownAt}
  }

  resize(width, height) {
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  }

  /** Draw (or redraw) the preview of a stroke in stream px. */
  draw(stroke) {
    const node = svgElement("g", { "data-mark": stroke.id, class: `wb-screen-preview wb-screen-preview-${stroke.tool}` });
    for (const [tag, attributes, text] of markShapes(stroke)) node.append(svgElement(tag, attributes, text ?? null));
    const old = this.items.get(stroke.id);
    if (old) old.node.replaceWith(node);
    else this.svg.append(node);
    this.items.set(stroke.id, { node, state: "draft", since: this.now(), shownAt: null });
    return node;
  }

  /** A laser segment: shown, fading out over the laser's life on the customer's screen. */
  flash(stroke) {
    const node = this.draw(stroke);
    this.items.delete(stroke.id);
    const fade = node.animate?.([{ opacity: 1 }, { opacity: 0 }], { duration: LASER_SECONDS * 1000, fill: "forwards" });
    if (fade) fade.onfinish = () => node.remove();
    else node.remove();
  }

  sent(id) {
    const item = this.items.get(id);
    if (item) Object.assign(item, { state: "sent", since: this.now() });
  }

  drop(id) {
    this.items.get(id)?.node.remove();
    this.items.delete(id);
  }

  /** screen.marks: previews of the listed marks wait for a frame captured at or after shownAt. */
  confirm(ids, shownAt) {
    for (const id of ids) {
      const item = this.items.get(id);
      if (item && item.state === "sent") Object.assign(item, { state: "confirmed", shownAt, since: this.now() });
    }
  }

  /** A frame was drawn: drop the previews its picture already shows. */
  frameDrawn(capturedAt) {
    for (const [id, item] of this.items) {
      if (item.state !== "confirmed") continue;
      if (!Number.isFinite(item.shownAt) || !Number.isFinite(capturedAt) || capturedAt >= item.shownAt) this.drop(id);
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
}

/* ---------------------------------------------------------- 8. Control input */

// DOM events → control.* events (docs/control-protocol.md). Printable characters travel as
// control.text (they land as characters whatever the customer's layout); every other key,
// modifiers included, as control.key down/up. Buttons and wheel as control.pointer.

const DOM_TO_CONTROL_BUTTON = { 0: 1, 1: 2, 2: 3 }; // left, middle, right
const DOM_BUTTON_BIT = { 0: 1, 1: 4, 2: 2 }; // MouseEvent.buttons
// One wheel notch, in px (DOM_DELTA_PIXEL); lines and pages are converted first.
const WHEEL_NOTCH_PX = 100;
const WHEEL_LINE_PX = 100 / 3;
const WHEEL_PAGE_PX = 800;
const NOT_A_KEY = new Set(["Dead", "Unidentified", "Process", "Compose"]);

export function controlButton(domButton) {
  return DOM_TO_CONTROL_BUTTON[domButton] ?? null;
}

export function modifiersOf(event) {
  const altGraph = event.getModifierState?.("AltGraph") ?? false;
  return [
    ["ctrl", event.ctrlKey && !altGraph],
    ["alt", event.altKey && !altGraph],
    ["shift", event.shiftKey],
    ["meta", event.metaKey],
  ].filter(([, on]) => on).map(([name]) => name);
}

/** A key that types one character (AltGr and Shift allowed; Ctrl, Alt and Meta make it a shortcut). */
export function isTextKey(event) {
  const key = event.key ?? "";
  if ([...key].length !== 1 || key.codePointAt(0) < 32 || key === "\u007f") return false;
  const altGraph = event.getModifierState?.("AltGraph") ?? false;
  return altGraph || !(event.ctrlKey || event.altKey || event.metaKey);
}

/** The control event for a keydown/keyup (`down` true/false), or null when none is due. */
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

/* --------------------------------------------------------- 9. Pointer tools */

/** Routes pointer events on `target` to one active tool as (event, streamPoint). A tool is
 * {name, down?, move?, up?, cancel?}; tools receive stream px so marks and clicks land right
 * whatever the zoom. Events on a form control over the picture (the text label's input) are not
 * for the tool. */
export class PointerRouter {
  constructor(target, transform) {
    this.target = target;
    this.transform = transform;
    this.tool = null;
    this.handlers = {
      pointerdown: (event) => this._route("down", event),
      pointermove: (event) => this._route("move", event),
      pointerup: (event) => this._route("up", event),
      pointercancel: (event) => this._route("cancel", event),
    };
    for (const [name, handler] of Object.entries(this.handlers)) target.addEventListener(name, handler);
  }

  setTool(tool) {
    this.tool?.cancel?.();
    this.tool = tool;
  }

  dispose() {
    this.setTool(null);
    for (const [name, handler] of Object.entries(this.handlers)) this.target.removeEventListener(name, handler);
  }

  _route(kind, event) {
    if (event.target?.closest?.("input, textarea, select, button")) return;
    const handler = this.tool?.[kind];
    if (handler) handler.call(this.tool, event, this.transform.clientToStream(event.clientX, event.clientY));
  }
}

/** Drag to pan a scrolled viewport (1:1 zoom); the wheel scrolls natively. */
export function createPanTool(viewport, isActive) {
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
 * draft(stroke) (redraw the preview), discard(id), finish(stroke). Points are stream px. */
export function createDrawTool(tool, host) {
  const twoPoints = tool === "arrow" || tool === "rect" || tool === "ellipse";
  let stroke = null;
  const begin = (point) => ({ id: host.newId(), tool, ...host.style(tool), points: twoPoints ? [point, point] : [point] });
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
      if (!stroke) return;
      const at = host.clamp(point);
      const { points } = stroke;
      if (twoPoints) {
        points[1] = at;
      } else {
        const last = points.at(-1);
        if (Math.hypot(at.x - last.x, at.y - last.y) < MIN_POINT_DISTANCE) return;
        points.push(at);
        if (points.length >= MAX_STROKE_POINTS) {
          host.finish(stroke); // a very long stroke goes as several marks
          stroke = begin(at);
        }
      }
      host.draft(stroke);
    },
    up(event, point) {
      if (!stroke) return;
      this.move(event, point);
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
 * LASER_SEND_INTERVAL_MS (the agent fades each one). host: style, newId, laser(stroke). */
export function createLaserTool(host, now = () => performance.now()) {
  let trail = null;
  let sentAt = -Infinity;
  const send = () => {
    const t = now();
    const recent = trail.filter((p) => t - p.t <= LASER_TRAIL_MS).slice(-MAX_LASER_POINTS);
    const points = (recent.length ? recent : [trail.at(-1)]).map(({ x, y }) => ({ x, y }));
    trail = trail.slice(-MAX_LASER_POINTS);
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
      send();
    },
    move(event, point) {
      if (!trail) return;
      trail.push({ ...host.clamp(point), t: now() });
      if (now() - sentAt >= LASER_SEND_INTERVAL_MS) send();
    },
    up(event, point) {
      if (!trail) return;
      trail.push({ ...host.clamp(point), t: now() });
      send();
      host.release(event);
      trail = null;
    },
    cancel() {
      trail = null;
    },
  };
}

/** Click to place a text label there (host.openText(point) asks for the words). */
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

/** Click on a mark to remove it (host.eraseAt(point)). */
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

/** The customer's mouse, from the canvas: control.pointer in desktop px. Moves are coalesced to
 * one per animation frame (the newest wins); a press or release sends the pending move first.
 * host: send(name, body), toDesktop(point). releaseAll() lets go of every held button. */
export function createControlTool(host) {
  let pending = null;
  let frame = 0;
  let last = null;
  const held = new Set();
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
    releaseAll() {
      flush();
      for (const button of [...held]) {
        held.delete(button);
        if (last) host.send("control.pointer", { ...last, action: "up", button });
      }
    },
    cancel() {
      this.releaseAll();
    },
  };
}

/* ----------------------------------------------------------- 10. ScreenView */

function element(tag, className, props = {}) {
  return Object.assign(document.createElement(tag), { className, ...props });
}

function formatRate(kbps) {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}

function monitorLabel(monitor) {
  const primary = monitor.primary ? ", primary" : "";
  return `Monitor ${monitor.index + 1} (${monitor.width}×${monitor.height}${primary})`;
}

/** The view's action for a key outside control mode: "tool:<name>", "colour:<index>", "undo",
 * "clear", or null (P pen, A arrow, R rectangle, E ellipse, H highlighter, T text, L laser,
 * X eraser, V view; 1…6 colours; Backspace or Ctrl/⌘+Z undo; Shift+C clear). */
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

/** A mark from screen.marks the view can use (hit test, undo); anything else is ignored. */
function isWireMark(mark) {
  return mark !== null && typeof mark === "object" && typeof mark.id === "string" && typeof mark.tool === "string"
    && Number.isFinite(mark.width) && Array.isArray(mark.points) && mark.points.length > 0
    && mark.points.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite));
}

const NOTE_MS = 6_000;
const MAX_OWN_IDS = 200;
const CONTROL_GRACE_S = 2; // the agent's default (docs/control-protocol.md), when it gives none

/** Wires a link, a surface and the DOM to one anywidget model. */
class ScreenView {
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.cleanups = [];
    this.monitors = [];
    this.streamMonitor = "all";
    this.streamInfo = null; // screen.info's "stream": its monitor and origin on the virtual screen
    this.visible = false;
    this.hideTimer = null;
    this.stateNotice = { paused: false, hiddenCount: 0, reason: "" };
    this.linkText = "Not connected yet";
    this.lastRefreshAt = -Infinity;
    this.lastKeyRequestAt = -Infinity;
    this.lastHiddenKey = "";
    this.lastPublished = {};
    // Marks and control.
    this.toolName = "view";
    this.colour = PALETTE[0][1];
    this.marks = []; // the agent's own list (screen.marks): what its overlay shows
    this.overlayName = null;
    this.ownIds = []; // marks this view sent, oldest first (undo takes back the newest)
    this.idPrefix = `w${Math.random().toString(36).slice(2, 8)}`;
    this.idCount = 0;
    this.textInput = null;
    this.note = { text: "", at: 0 };
    this.controlState = { granted: false, customerActive: false, resumeIn: null, graceS: null };
    this.controlOn = false;
    this.toolBeforeControl = "view";
    this.heldKeys = new Map(); // code -> the control.key "down" body sent for it

    this._buildDom();
    this.surface = new ScreenSurface(this.canvas, {
      onFrameDone: (body, outcome) => this._frameDone(body, outcome),
      onResize: (width, height, key) => this._streamResized(width, height, key),
    });
    this.transform = new ViewTransform(this.canvas, () => this._streamOrigin());
    this.stats = new StreamStats();
    this.link = new ScreenLink({
      url: model.get("relay_url"),
      sessionId: model.get("session_id"),
      token: model.get("token"),
      onMessage: (msg, payload) => this._onMessage(msg, payload),
      onState: (state, detail) => this._onLinkState(state, detail),
    });
    this.previews = new MarkPreviews(this.marksSvg);
    this.wheel = new WheelNotches();
    this.pointer = new PointerRouter(this.viewport, this.transform);
    this.tools = this._makeTools();
    this.pointer.setTool(this.tools.view);

    const restart = () =>
      this.link.restart({ url: model.get("relay_url"), sessionId: model.get("session_id"), token: model.get("token") });
    this._onModel("change:relay_url", restart);
    this._onModel("change:session_id", restart);
    this._onModel("change:token", restart);
    this._onModel("change:monitor", () => {
      this._renderMonitors(); // the change may come from Python or another view of this model
      this._configure();
    });
    this._onModel("change:max_fps", () => this._configure());
    this._onModel("change:zoom", () => this._applyZoom());
    this._onModel("msg:custom", (msg) => this._onKernelMessage(msg));
    this._listen(this.monitorSelect, "change", () => {
      const value = this.monitorSelect.value;
      model.set("monitor", value === "all" ? "all" : Number(value));
      model.save_changes();
    });
    this._listen(this.zoomButton, "click", () => {
      model.set("zoom", model.get("zoom") === "1:1" ? "fit" : "1:1");
      model.save_changes();
    });
    this._listen(this.toolbar, "click", (event) => this._onToolbarClick(event));
    // Keys reach the view while it (or a control in it) has the focus; clicking the picture gives it.
    this._listen(this.root, "keydown", (event) => this._onKey(event, true));
    this._listen(this.root, "keyup", (event) => this._onKey(event, false));
    this._listen(this.root, "focusout", (event) => {
      if (!this.root.contains(event.relatedTarget)) this._releaseInput();
    });
    this._listen(this.viewport, "pointerdown", () => {
      if (!this.root.contains(document.activeElement)) this.root.focus({ preventScroll: true });
    });
    this._listen(this.viewport, "wheel", (event) => this._onWheel(event), { passive: false });
    this._listen(this.viewport, "contextmenu", (event) => {
      if (this.controlOn) event.preventDefault(); // the right button is the customer's
    });

    // Stream only while some part of the view can be seen: scrolled into view, its tab shown,
    // the browser tab visible. Closing the socket (rather than pausing) also lets the relay tell
    // the customer truthfully whether anyone is watching.
    const observer = new IntersectionObserver((entries) => {
      this.visible = entries[entries.length - 1].isIntersecting;
      this._syncStreaming();
    });
    observer.observe(this.root);
    this.cleanups.push(() => observer.disconnect());
    this._listen(document, "visibilitychange", () => this._syncStreaming());

    const statsTimer = setInterval(() => this._refreshStats(), STATS_INTERVAL_MS);
    this.cleanups.push(() => clearInterval(statsTimer));
    this.cleanups.push(() => clearTimeout(this.hideTimer));

    this._applyZoom();
    this._renderMonitors();
    this._renderStatus();
  }

  dispose() {
    this._releaseInput(); // no key or button stays held on the customer's side
    for (const cleanup of this.cleanups.splice(0).reverse()) cleanup();
    this.pointer.dispose();
    this.link.dispose();
    this.surface.dispose();
    this.previews.clear();
    this.root.remove();
  }

  /* -- DOM -- */

  _buildDom() {
    // Focusable, so that shortcuts and control keys reach it (and not the notebook's commands).
    this.root = element("div", "wb-screen", { tabIndex: 0 });
    this.root.dataset.tool = this.toolName;
    const bar = element("div", "wb-screen-bar");
    this.monitorSelect = element("select", "wb-screen-monitor", { title: "Which of the customer's monitors to show" });
    this.zoomButton = element("button", "wb-screen-zoom", { type: "button" });
    this.statusLine = element("span", "wb-screen-status", { role: "status" });
    bar.append(this.monitorSelect, this.zoomButton, this.statusLine);
    this.toolbar = this._buildToolbar();
    this.notice = element("div", "wb-screen-notice", { hidden: true, role: "alert" });
    this.viewport = element("div", "wb-screen-viewport");
    this.placeholder = element("div", "wb-screen-placeholder", { textContent: "Waiting for the customer's screen…" });
    this.stage = element("div", "wb-screen-stage", { hidden: true });
    this.canvas = element("canvas", "wb-screen-canvas", { width: 0, height: 0 });
    // Everything drawn over the picture lives in this layer, positioned in % of the stream so it
    // follows any zoom without relayout: hidden-area labels, and the previews of marks being
    // drawn (an SVG whose viewBox is the stream's size, so it fits the same box).
    this.layer = element("div", "wb-screen-layer");
    this.hiddenLayer = element("div", "wb-screen-hidden-layer");
    this.marksSvg = svgElement("svg", { class: "wb-screen-marks", viewBox: "0 0 1 1", preserveAspectRatio: "none" });
    this.layer.append(this.hiddenLayer, this.marksSvg);
    this.stage.append(this.canvas, this.layer);
    this.viewport.append(this.placeholder, this.stage);
    this.root.append(bar, this.toolbar, this.notice, this.viewport);
    this.el.append(this.root);
  }

  _buildToolbar() {
    const toolbar = element("div", "wb-screen-tools", { role: "toolbar", ariaLabel: "Marks and control" });
    const group = (...children) => {
      const box = element("span", "wb-screen-group");
      box.append(...children);
      return box;
    };
    this.toolButtons = {};
    for (const [key, name] of Object.entries(TOOL_KEYS)) {
      const button = element("button", "wb-screen-tool", {
        type: "button", textContent: TOOL_LABELS[name], title: `${TOOL_LABELS[name]} (${key.toUpperCase()})`,
      });
      button.dataset.tool = name;
      this.toolButtons[name] = button;
    }
    const { view, ...drawing } = this.toolButtons;
    this.colourButtons = PALETTE.map(([name, colour], index) => {
      const button = element("button", "wb-screen-colour", { type: "button", title: `${name} (${index + 1})`,
                                                             ariaLabel: name });
      button.dataset.colour = colour;
      button.style.background = colour;
      return button;
    });
    this.undoButton = element("button", "wb-screen-undo", {
      type: "button", textContent: "Undo", title: "Remove the last mark (Backspace, Ctrl+Z)",
    });
    this.clearButton = element("button", "wb-screen-clear", {
      type: "button", textContent: "Clear", title: "Remove every mark (Shift+C)",
    });
    this.controlButton = element("button", "wb-screen-control", { type: "button", textContent: "Control" });
    this.marksInfo = element("span", "wb-screen-marks-info");
    this.noteLine = element("span", "wb-screen-note", { role: "status" });
    const info = element("div", "wb-screen-info");
    info.append(this.marksInfo, this.noteLine);
    toolbar.append(group(view, ...Object.values(drawing)), group(...this.colourButtons),
                   group(this.undoButton, this.clearButton), group(this.controlButton), info);
    this._renderTools();
    return toolbar;
  }

  _applyZoom() {
    const oneToOne = this.model.get("zoom") === "1:1";
    const center = this._visibleCenter();
    this.root.classList.toggle("wb-screen--one-to-one", oneToOne);
    this.zoomButton.textContent = oneToOne ? "Fit to width" : "Zoom 1:1";
    this.zoomButton.title = oneToOne
      ? "Fit the screen to the cell's width"
      : "One screen pixel per device pixel; drag or scroll to pan";
    this._sizeCanvas();
    if (oneToOne && center) {
      const scale = this.transform.scale;
      this.viewport.scrollLeft = center.x * scale - this.viewport.clientWidth / 2;
      this.viewport.scrollTop = center.y * scale - this.viewport.clientHeight / 2;
    }
  }

  /** The stream point at the middle of what is shown, to keep it centred across a zoom change. */
  _visibleCenter() {
    if (!this.canvas.width) return null;
    const box = this.viewport.getBoundingClientRect();
    const canvasBox = this.canvas.getBoundingClientRect();
    const x = (Math.max(box.left, canvasBox.left) + Math.min(box.right, canvasBox.right)) / 2;
    const y = (Math.max(box.top, canvasBox.top) + Math.min(box.bottom, canvasBox.bottom)) / 2;
    return this.transform.clientToStream(x, y);
  }

  _sizeCanvas() {
    const oneToOne = this.model.get("zoom") === "1:1";
    // 1:1 means one stream pixel per device pixel, so text is as crisp as on the customer's screen.
    this.canvas.style.width = oneToOne && this.canvas.width ? `${this.canvas.width / (devicePixelRatio || 1)}px` : "";
  }

  _renderMonitors() {
    const current = String(this.model.get("monitor"));
    const options = [["all", this.monitors.length > 1 ? "All monitors, side by side" : "All monitors"]];
    for (const monitor of this.monitors) options.push([String(monitor.index), monitorLabel(monitor)]);
    if (!options.some(([value]) => value === current)) options.push([current, `Monitor ${Number(current) + 1}`]);
    this.monitorSelect.replaceChildren(
      ...options.map(([value, text]) => element("option", "", { value, textContent: text })),
    );
    this.monitorSelect.value = current;
    this.monitorSelect.disabled = this.monitors.length < 2;
  }

  _renderHidden() {
    const { width, height } = this.surface;
    const hidden = this.surface.hidden;
    const key = JSON.stringify([width, height, hidden]);
    if (key === this.lastHiddenKey) return;
    this.lastHiddenKey = key;
    const percent = (value, total) => `${(100 * value) / total}%`;
    this.hiddenLayer.replaceChildren(
      ...hidden.map((area) =>
        element("div", "wb-screen-hidden", {
          textContent: typeof area.label === "string" && area.label ? area.label : DEFAULT_HIDDEN_LABEL,
          style:
            `left:${percent(area.x, width)};top:${percent(area.y, height)};` +
            `width:${percent(area.w, width)};height:${percent(area.h, height)}`,
        }),
      ),
    );
  }

  _renderNotice() {
    const { paused, hiddenCount, reason } = this.stateNotice;
    const parts = [];
    if (paused) parts.push("The customer has paused the view: the picture is frozen until they resume.");
    if (hiddenCount > 0) {
      parts.push(
        `The customer has hidden ${hiddenCount === 1 ? "part" : `${hiddenCount} parts`} of their screen;` +
          " those areas are not sent to you.",
      );
    }
    if (parts.length && reason) parts.push(`(${reason})`);
    this.notice.textContent = parts.join(" ");
    this.notice.hidden = parts.length === 0;
  }

  _renderStatus(snapshot = null) {
    let text = this.linkText;
    const control = this.controlState;
    if (control.customerActive) {
      const grace = control.graceS ?? CONTROL_GRACE_S; // the grace period; resume_in is only the time left
      text = `The customer is using their computer: your input resumes ${grace} s after they stop · ${text}`;
    }
    if (this.link.live && snapshot) {
      const latency =
        snapshot.latencyMs === null
          ? "latency –"
          : `${snapshot.latencyKind === "rtt" ? "round trip" : "latency"} ${Math.round(snapshot.latencyMs)} ms`;
      text += ` · ${snapshot.fps.toFixed(1)} fps · ${latency} · ${formatRate(snapshot.kbps)}`;
    }
    this.statusLine.textContent = text;
    this.statusLine.title = text; // in full, where the line is cut
  }

  /* -- streaming -- */

  _syncStreaming() {
    const shouldStream = this.visible && document.visibilityState !== "hidden" && this.root.isConnected;
    if (shouldStream) {
      clearTimeout(this.hideTimer);
      this.hideTimer = null;
      this.link.start();
    } else if (this.link.wanted && this.hideTimer === null) {
      this.hideTimer = setTimeout(() => {
        this.hideTimer = null;
        this.link.stop();
      }, HIDE_GRACE_MS);
    }
  }

  _onLinkState(state, detail) {
    switch (state) {
      case "connecting":
        this.linkText = "Connecting…";
        break;
      case "live":
        this.linkText = "Live";
        this.stats.reset();
        this.surface.reset();
        this._configure();
        this._requestKeyFrame(true);
        break;
      case "retrying": {
        this.surface.reset();
        const why = detail.wasWelcomed ? "Connection lost" : `Cannot reach the relay at ${this.link.credentials.url}`;
        this.linkText = `${why}; retrying in ${Math.max(1, Math.round(detail.delay / 1000))} s`;
        break;
      }
      case "refused":
        this.linkText = `The relay refused this view (${detail.message ?? "unauthorized"})`;
        this._refreshToken();
        break;
      case "ended":
        this.linkText = "The session has ended.";
        break;
      default:
        this.surface.reset();
        this.linkText = "Paused while not visible";
    }
    if (state !== "live") this._setControl(false); // its input would be lost: hand the mouse back now
    this._renderTools();
    const idle = state === "live" ? {} : { fps: 0, kbps: 0, latency_ms: null, latency_kind: "" };
    this._publish({ connected: state === "live", status: this.linkText, ...idle });
    this._renderStatus();
  }

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
    const body = msg.body;
    switch (msg.name) {
      case "screen.frame":
        this.stats.frameReceived(payload.byteLength);
        this.surface.push(body, payload);
        break;
      case "screen.info":
        this.monitors = (Array.isArray(body.monitors) ? body.monitors : []).filter((m) => isInt(m.index));
        this.streamInfo = body.stream && typeof body.stream === "object" ? body.stream : null;
        this._renderMonitors();
        this._publish({
          monitors: this.monitors.map(({ index, x, y, width, height, primary }) => ({
            index, x, y, width, height, primary: Boolean(primary),
          })),
        });
        break;
      case "screen.state":
        this.stateNotice = {
          paused: Boolean(body.paused),
          hiddenCount: isInt(body.hidden_count) ? body.hidden_count : 0,
          reason: typeof body.reason === "string" ? body.reason : "",
        };
        this._renderNotice();
        this._publish({ paused: this.stateNotice.paused, hidden_count: this.stateNotice.hiddenCount });
        break;
      case "screen.marks":
        this._onMarks(body);
        break;
      case "screen.control":
        this.controlState = {
          granted: body.granted === true,
          customerActive: body.customer_active === true,
          resumeIn: Number.isFinite(body.resume_in) ? body.resume_in : null,
          graceS: Number.isFinite(body.grace_s) && body.grace_s > 0 ? body.grace_s : null,
        };
        if (!this.controlState.granted) this._setControl(false);
        this._renderTools();
        this._renderStatus();
        break;
      default:
        break; // other screen.* events are for later versions
    }
  }

  _frameDone(body, { skipped, error }) {
    if (error) {
      console.warn("screen: frame not drawn:", error.message ?? error);
      this._requestKeyFrame(false);
    }
    if (!skipped && !error) {
      this.stats.frameDrawn(body.captured_at);
      if (body.monitor !== undefined) this.streamMonitor = body.monitor;
      if (typeof body.paused === "boolean" && body.paused !== this.stateNotice.paused) {
        this.stateNotice = { ...this.stateNotice, paused: body.paused };
        this._renderNotice();
        this._publish({ paused: body.paused });
      }
      if (this.stage.hidden) {
        this.stage.hidden = false;
        this.placeholder.hidden = true;
      }
      this._renderHidden();
      this.previews.frameDrawn(body.captured_at);
    }
    // Every frame is acked, drawn or superseded, so the agent's in-flight count never stalls.
    if (Number.isInteger(body.seq) && this.link.send("screen.ack", { seq: body.seq })) this.stats.ackSent();
  }

  _streamResized(width, height, key) {
    this._sizeCanvas();
    this.previews.resize(width, height);
    // A delta frame on a freshly sized (cleared) canvas leaves holes: ask for a whole picture.
    if (!key) this._requestKeyFrame(true);
  }

  _configure() {
    const monitor = this.model.get("monitor");
    // copy: this viewer draws "copy" rects (scrolls travel as a copy, not as pixels).
    this.link.send("screen.configure", { monitor, max_fps: this.model.get("max_fps"), copy: true });
  }

  _requestKeyFrame(force) {
    const now = performance.now();
    if (!force && now - this.lastKeyRequestAt < 1000) return;
    if (this.link.send("screen.key_request", {})) this.lastKeyRequestAt = now;
  }

  _streamOrigin() {
    const monitor = this.streamMonitor;
    const stream = this.streamInfo;
    if (stream && stream.monitor === monitor && Number.isFinite(stream.x) && Number.isFinite(stream.y)) {
      return { x: stream.x, y: stream.y };
    }
    if (monitor === "all" || monitor === undefined) {
      if (!this.monitors.length) return { x: 0, y: 0 };
      return { x: Math.min(...this.monitors.map((m) => m.x)), y: Math.min(...this.monitors.map((m) => m.y)) };
    }
    const shown = this.monitors.find((m) => m.index === monitor);
    return shown ? { x: shown.x, y: shown.y } : { x: 0, y: 0 };
  }

  _refreshStats() {
    this.previews.sweep();
    if (this.note.text && performance.now() - this.note.at > NOTE_MS) this._note("");
    const snapshot = this.stats.snapshot();
    this._renderStatus(snapshot);
    if (!this.link.live) return;
    const round1 = (value) => Math.round(value * 10) / 10;
    this._publish({
      fps: round1(snapshot.fps),
      kbps: Math.round(snapshot.kbps),
      latency_ms: snapshot.latencyMs === null ? null : round1(snapshot.latencyMs),
      latency_kind: snapshot.latencyKind,
    });
  }

  /* -- marks and control -- */

  _makeTools() {
    const host = {
      contains: (point) => this.transform.containsStream(point),
      clamp: (point) => ({
        x: Math.min(Math.max(point.x, 0), Math.max(0, this.canvas.width - 1)),
        y: Math.min(Math.max(point.y, 0), Math.max(0, this.canvas.height - 1)),
      }),
      capture: (event) => this.viewport.setPointerCapture?.(event.pointerId),
      release: (event) => {
        if (this.viewport.hasPointerCapture?.(event.pointerId)) this.viewport.releasePointerCapture(event.pointerId);
      },
      style: (tool) => ({ colour: this.colour, width: DEFAULT_WIDTHS[tool] }),
      newId: () => `${this.idPrefix}-${(this.idCount += 1)}`,
      draft: (stroke) => this.previews.draw(stroke),
      discard: (id) => this.previews.drop(id),
      finish: (stroke) => this._sendMark(stroke),
      laser: (stroke) => this._sendLaser(stroke),
      openText: (point) => this._openText(point),
      eraseAt: (point) => this._eraseAt(point),
      send: (name, body) => this.link.send(name, body),
      toDesktop: (point) => this.transform.streamToDesktop(point.x, point.y),
    };
    const tools = {
      view: createPanTool(this.viewport, () => this.model.get("zoom") === "1:1"),
      laser: createLaserTool(host),
      text: createTextTool(host),
      eraser: createEraserTool(host),
      control: createControlTool(host),
    };
    for (const tool of ["pen", "arrow", "rect", "ellipse", "highlighter"]) tools[tool] = createDrawTool(tool, host);
    return tools;
  }

  _setTool(name) {
    if (!this.tools[name] || name === "control") return;
    this._closeText(false);
    if (this.controlOn) this._setControl(false);
    this.toolName = name;
    this.pointer.setTool(this.tools[name]);
    this._renderTools();
  }

  /** Control on or off; on only while the customer grants it and the link is live. */
  _setControl(on) {
    const wanted = Boolean(on) && this.controlState.granted && this.link.live;
    if (wanted === this.controlOn) return;
    this._closeText(false);
    if (wanted) {
      this.toolBeforeControl = this.toolName;
      this.controlOn = true;
      this.toolName = "control";
      this.pointer.setTool(this.tools.control);
      this.root.focus({ preventScroll: true });
    } else {
      this._releaseInput();
      this.controlOn = false;
      this.toolName = this.toolBeforeControl;
      this.pointer.setTool(this.tools[this.toolName]); // the control tool lets go of held buttons
    }
    this._renderTools();
    this._renderStatus();
  }

  _renderTools() {
    this.root.dataset.tool = this.toolName;
    for (const [name, button] of Object.entries(this.toolButtons)) {
      button.setAttribute("aria-pressed", String(name === this.toolName));
    }
    for (const button of this.colourButtons) button.setAttribute("aria-pressed", String(button.dataset.colour === this.colour));
    const { granted } = this.controlState;
    const live = this.link?.live ?? false;
    this.controlButton.disabled = !granted || !live;
    this.controlButton.setAttribute("aria-pressed", String(this.controlOn));
    this.controlButton.textContent = this.controlOn ? "Control: on" : "Control";
    this.controlButton.title = this.controlOn
      ? "Your mouse and keys go to the customer's computer; click to stop"
      : granted ? "Use the customer's mouse and keyboard (they can take it back at any time)"
        : "The customer has not allowed control";
  }

  _renderMarksInfo() {
    const count = this.marks.filter((mark) => mark.tool !== "laser").length;
    let text = count ? `${count} mark${count === 1 ? "" : "s"} on the customer's screen` : "";
    if (this.overlayName === "none") text += `${text ? " " : ""}(not drawn on their screen: they are told in words)`;
    this.marksInfo.textContent = text;
  }

  _note(text) {
    this.note = { text, at: performance.now() };
    this.noteLine.textContent = text;
  }

  _onToolbarClick(event) {
    const button = event.target.closest?.("button");
    if (!button || button.disabled) return;
    if (button.dataset.tool) this._setTool(button.dataset.tool);
    else if (button.dataset.colour) this._setColour(button.dataset.colour);
    else if (button === this.undoButton) this._undo();
    else if (button === this.clearButton) this._clear();
    else if (button === this.controlButton) this._setControl(!this.controlOn);
  }

  _setColour(colour) {
    this.colour = colour;
    this._renderTools();
  }

  _onKey(event, down) {
    const target = event.target;
    if (target !== this.root && target.matches?.("input, textarea, select")) {
      event.stopPropagation(); // typing a label or choosing a monitor: not for the notebook either
      return;
    }
    if (this.controlOn) {
      event.preventDefault();
      event.stopPropagation();
      this._controlKey(event, down);
      return;
    }
    if (!down) return;
    const action = shortcutFor(event);
    if (action) {
      event.preventDefault();
      event.stopPropagation();
      const [verb, argument] = action.split(":");
      if (verb === "tool") this._setTool(argument);
      else if (verb === "colour") this._setColour(PALETTE[Number(argument)][1]);
      else if (verb === "undo") this._undo();
      else if (verb === "clear") this._clear();
    } else if (!(event.ctrlKey || event.metaKey || event.altKey || event.key === "Tab" || event.key === "Escape"
                 || (event.shiftKey && event.key === "Enter"))) {
      event.stopPropagation(); // single keys are the notebook's cell commands (D D deletes a cell)
    }
  }

  _controlKey(event, down) {
    if (down && event.repeat && !isTextKey(event)) return; // the customer's system repeats a held key itself
    const message = keyEvent(event, down);
    if (!message) return;
    const [name, body] = message;
    if (name === "control.key") {
      const id = event.code || event.key;
      if (down) this.heldKeys.set(id, body);
      else if (!this.heldKeys.delete(id)) return; // pressed before control was on: not ours to release
    }
    this.link.send(name, body);
  }

  /** Let go of every key and button held on the customer's side (focus lost, control off, view gone). */
  _releaseInput() {
    for (const body of this.heldKeys.values()) this.link.send("control.key", { ...body, action: "up" });
    this.heldKeys.clear();
    this.tools?.control.releaseAll();
  }

  _onWheel(event) {
    if (!this.controlOn) return; // the wheel scrolls the view (1:1) when not in control
    event.preventDefault();
    const point = this.transform.clientToStream(event.clientX, event.clientY);
    this.tools.control.wheel(event, point, this.wheel.add(event));
  }

  _sendMark(stroke) {
    const mark = markMessage(stroke, (x, y) => this.transform.streamToDesktop(x, y));
    if (!this.link.send("annotate.mark", { mark })) {
      this.previews.drop(stroke.id);
      this._note("Not connected: the mark was not sent.");
      return;
    }
    this.previews.sent(stroke.id);
    this.ownIds.push(stroke.id);
    if (this.ownIds.length > MAX_OWN_IDS) this.ownIds.shift();
  }

  _sendLaser(stroke) {
    const mark = markMessage(stroke, (x, y) => this.transform.streamToDesktop(x, y));
    if (this.link.send("annotate.mark", { mark })) this.previews.flash(stroke);
  }

  _openText(point) {
    this._closeText(true);
    const width = DEFAULT_WIDTHS.text;
    const input = element("input", "wb-screen-text-input", {
      type: "text", maxLength: MAX_TEXT_LENGTH, placeholder: "Type, then Enter", spellcheck: false,
      ariaLabel: "Text of the label (Enter to place it, Escape to cancel)",
    });
    const { width: streamWidth, height: streamHeight } = this.surface;
    Object.assign(input.style, {
      left: `${(100 * point.x) / streamWidth}%`,
      top: `${(100 * point.y) / streamHeight}%`,
      fontSize: `${textSize(width) * this.transform.scale}px`,
      background: this.colour,
      color: inkFor(this.colour),
    });
    const open = { input, point, colour: this.colour, width };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === "Escape") {
        event.preventDefault();
        this._closeText(event.key === "Enter");
        this.root.focus({ preventScroll: true });
      }
    });
    input.addEventListener("blur", () => this._closeText(true));
    this.textInput = open;
    this.layer.append(input);
    input.focus({ preventScroll: true });
  }

  _closeText(commit) {
    const open = this.textInput;
    if (!open) return;
    this.textInput = null; // first: removing the input blurs it, which comes back here
    const text = open.input.value;
    open.input.remove();
    if (!commit || !text.trim()) return;
    const stroke = { id: `${this.idPrefix}-${(this.idCount += 1)}`, tool: "text", colour: open.colour,
                     width: open.width, points: [open.point], text };
    this.previews.draw(stroke);
    this._sendMark(stroke);
  }

  _eraseAt(point) {
    const at = this.transform.streamToDesktop(point.x, point.y);
    const reach = 6 / Math.max(this.transform.scale, 0.05); // 6 CSS px, in desktop px
    const mark = markAt(this.marks, at.x, at.y, reach);
    if (mark) this.link.send("annotate.remove", { id: mark.id });
    else this._note("No mark there.");
  }

  _undo() {
    // A mark still on its way counts too: the agent handles the remove after the mark.
    const newest = this.ownIds.at(-1);
    const id = newest && this.previews.items.has(newest) ? newest : markToUndo(this.marks, this.ownIds);
    if (!id) {
      this._note("Nothing to undo.");
      return;
    }
    if (this.link.send("annotate.remove", { id })) {
      this.previews.drop(id);
      this.ownIds = this.ownIds.filter((own) => own !== id);
    }
  }

  _clear() {
    this._closeText(false);
    if (this.link.send("annotate.clear", {})) this.previews.clear();
  }

  _onMarks(body) {
    this.marks = Array.isArray(body.marks) ? body.marks.filter(isWireMark) : [];
    this.overlayName = typeof body.overlay === "string" ? body.overlay : null;
    this.previews.confirm(this.marks.map((mark) => mark.id), body.shown_at);
    const refused = body.refused;
    if (refused && typeof refused === "object") {
      if (typeof refused.id === "string") this.previews.drop(refused.id);
      this._note(`The customer's computer refused a mark: ${refused.message ?? "no reason given"}`);
    }
    this._renderMarksInfo();
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

  _onKernelMessage(msg) {
    if (msg?.type === "key_request") {
      this._requestKeyFrame(true);
    } else if (msg?.type === "token") {
      if (msg.ok) {
        // A changed token already restarted the link (change:token); an unchanged one did not.
        if (this.link.terminal === "refused") this.link.restart({ token: this.model.get("token") });
      } else {
        this.linkText = `No new viewing token: ${msg.message ?? "the kernel could not get one"}`;
        this._renderStatus();
      }
    }
  }

  /** Report state to the kernel (readable as traits); only changed values, one message. */
  _publish(values) {
    let changed = false;
    for (const [name, value] of Object.entries(values)) {
      const json = JSON.stringify(value);
      if (this.lastPublished[name] === json) continue;
      this.lastPublished[name] = json;
      this.model.set(name, value);
      changed = true;
    }
    if (changed) this.model.save_changes();
  }

  _onModel(event, handler) {
    this.model.on(event, handler);
    this.cleanups.push(() => this.model.off(event, handler));
  }

  _listen(target, event, handler, options = undefined) {
    target.addEventListener(event, handler, options);
    this.cleanups.push(() => target.removeEventListener(event, handler, options));
  }
}

/* --------------------------------------------------------------- 11. render */

function render({ model, el }) {
  const view = new ScreenView(model, el);
  return () => view.dispose();
}

export default { render };
