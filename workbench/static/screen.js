// The technician's live view of the customer's screen: one hand-written ES module, no build.
//
// The kernel only hands over the relay's URL, the session id and a viewing token; this module
// opens its own websocket to the relay (docs/screen-protocol.md) so that frames, acks and,
// later, marks and input never wait on the kernel (a running cell blocks browser→kernel
// messages) nor on Nagle.
//
// Sections, each usable on its own (annotation and control slot in beside them):
//   1. Wire         WB binary frames and event messages (pure).
//   2. Backoff      reconnect delays (pure generator).
//   3. ScreenLink   the websocket: hello/welcome, reconnect with backoff, stop; no drawing.
//   4. ScreenSurface  decodes frames and draws them in order on a canvas kept at the stream's
//                     own resolution; reports each frame done so the caller can ack it.
//   5. ViewTransform  client px ⇄ stream px ⇄ desktop px, whatever the zoom or scroll.
//   6. StreamStats  frames/s, latency, bandwidth.
//   7. Pointer tools  one active tool receives pointer events already mapped to stream px
//                     (pan today; annotation and control tools later).
//   8. ScreenView   the DOM (toolbar, status, viewport, overlay layer), visibility, the model.
//   9. render()     anywidget's entry point; returns the cleanup.

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

/* --------------------------------------------------------- 7. Pointer tools */

/** Routes pointer events on `target` to one active tool as (event, streamPoint). A tool is
 * {name, down?, move?, up?, cancel?}; annotation tools (pen, arrow…) and the control tool are
 * further tools, and they receive stream px so marks land right whatever the zoom. */
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

/* ------------------------------------------------------------ 8. ScreenView */

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
    this.pointer = new PointerRouter(this.viewport, this.transform);
    this.pointer.setTool(createPanTool(this.viewport, () => this.model.get("zoom") === "1:1"));

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
    for (const cleanup of this.cleanups.splice(0).reverse()) cleanup();
    this.pointer.dispose();
    this.link.dispose();
    this.surface.dispose();
    this.root.remove();
  }

  /* -- DOM -- */

  _buildDom() {
    this.root = element("div", "wb-screen");
    const bar = element("div", "wb-screen-bar");
    this.monitorSelect = element("select", "wb-screen-monitor", { title: "Which of the customer's monitors to show" });
    this.zoomButton = element("button", "wb-screen-zoom", { type: "button" });
    this.statusLine = element("span", "wb-screen-status", { role: "status" });
    bar.append(this.monitorSelect, this.zoomButton, this.statusLine);
    this.notice = element("div", "wb-screen-notice", { hidden: true, role: "alert" });
    this.viewport = element("div", "wb-screen-viewport");
    this.placeholder = element("div", "wb-screen-placeholder", { textContent: "Waiting for the customer's screen…" });
    this.stage = element("div", "wb-screen-stage", { hidden: true });
    this.canvas = element("canvas", "wb-screen-canvas", { width: 0, height: 0 });
    // Everything drawn over the picture lives in this layer, positioned in % of the stream so it
    // follows any zoom without relayout: hidden-area labels now, annotation marks later (an SVG
    // with viewBox="0 0 W H" fits the same box).
    this.layer = element("div", "wb-screen-layer");
    this.stage.append(this.canvas, this.layer);
    this.viewport.append(this.placeholder, this.stage);
    this.root.append(bar, this.notice, this.viewport);
    this.el.append(this.root);
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
    this.layer.replaceChildren(
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
    if (this.link.live && snapshot) {
      const latency =
        snapshot.latencyMs === null
          ? "latency –"
          : `${snapshot.latencyKind === "rtt" ? "round trip" : "latency"} ${Math.round(snapshot.latencyMs)} ms`;
      text += ` · ${snapshot.fps.toFixed(1)} fps · ${latency} · ${formatRate(snapshot.kbps)}`;
    }
    this.statusLine.textContent = text;
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
    }
    // Every frame is acked, drawn or superseded, so the agent's in-flight count never stalls.
    if (Number.isInteger(body.seq) && this.link.send("screen.ack", { seq: body.seq })) this.stats.ackSent();
  }

  _streamResized(_width, _height, key) {
    this._sizeCanvas();
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

  _listen(target, event, handler) {
    target.addEventListener(event, handler);
    this.cleanups.push(() => target.removeEventListener(event, handler));
  }
}

/* ---------------------------------------------------------------- 9. render */

function render({ model, el }) {
  const view = new ScreenView(model, el);
  return () => view.dispose();
}

export default { render };
