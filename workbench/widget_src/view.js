// @ts-check
// The view: wires a link, a surface, the tools, control mode and the DOM to one anywidget model.
// It decides when to stream (visible or not), what the status says, which tool is active, and
// what goes to the kernel; the parts it wires do the work.

import { Annotations } from "./annotations.js";
import { createControlTool } from "./control.js";
import { ControlMode } from "./control_mode.js";
import { element } from "./dom.js";
import { buildLayout } from "./layout.js";
import { ScreenLink } from "./link.js";
import { DEFAULT_WIDTHS, PALETTE } from "./marks.js";
import { IDLE_TRAITS, TraitPublisher } from "./model.js";
import { PointerRouter } from "./pointer.js";
import {
  controlStateFrom, frameOriginFrom, hiddenBoxes, monitorOptions, monitorsFrom, monitorsTrait, stateNoticeFrom, streamFrom, streamOrigin,
} from "./screen_state.js";
import { shortcutFor } from "./shortcuts.js";
import { StreamStats } from "./stats.js";
import { noticeText, statusText } from "./status.js";
import { h264Supported } from "./h264.js";
import { ScreenSurface } from "./surface.js";
import { renderToolbar } from "./toolbar.js";
import { createDrawTool, createEraserTool, createLaserTool, createPanTool, createTextTool } from "./tools.js";
import { ViewTransform } from "./transform.js";
import { isFullScreen, canFullScreen, popOut, toggleFullScreen } from "./window_modes.js";
import { isPannable, pictureSize, zoomFromValue, zoomValue } from "./zoom.js";

/** @typedef {import("./transform.js").Point} Point */
/** @typedef {import("./tools.js").ToolHost} ToolHost */
/** @typedef {import("./marks.js").ToolName} ToolName */
/** @typedef {import("./link.js").LinkState} LinkState */
/** @typedef {import("./link.js").LinkDetail} LinkDetail */
/** @typedef {import("./protocol.js").Message} Message */
/** @typedef {import("./surface.js").FrameBody} FrameBody */
/** @typedef {import("./surface.js").FrameOutcome} FrameOutcome */
/** @typedef {import("./stats.js").StatsSnapshot} StatsSnapshot */
/** @typedef {import("./status.js").StateNotice} StateNotice */
/** @typedef {import("./status.js").ControlState} ControlState */
/** @typedef {import("./status.js").Monitor} Monitor */
/** @typedef {import("./model.js").Traits} Traits */
/** @typedef {import("./model.js").WidgetModel} WidgetModel */
/** @typedef {{ type?: string, ok?: boolean, message?: string }} KernelMessage */
/** @typedef {import("./zoom.js").Zoom} Zoom */
/** @typedef {import("./zoom.js").Size} Size */

// Leaving the screen for less than this (scrolling past, a quick tab switch) keeps the stream.
const HIDE_GRACE_MS = 1_000;
const STATS_INTERVAL_MS = 1_000;
// The stream's figures (fps, kbps, latency) go to the kernel this often: each report is a comm
// message, which the kernel answers with busy and idle, which JupyterLab redraws its kernel status
// for. Once a second, that costs the page more than the stream's own drawing of a still screen.
const STATS_PUBLISH_MS = 5_000;
const TOKEN_REFRESH_MIN_INTERVAL_MS = 30_000;
const NOTE_MS = 6_000;
// The least height the picture gets in a cell, and what is left below it for the page to breathe.
const MIN_ROOM_HEIGHT = 160;
const ROOM_MARGIN = 16;

/** The height of the outermost ancestor that scrolls (the notebook, a panel), or Infinity. The
 * outermost: inner ones (an output area) take their height from the picture, so fitting into them
 * would shrink the picture step by step.
 * @param {HTMLElement} el @returns {number} */
function scrollerHeight(el) {
  let height = Infinity;
  for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
    const { overflowY } = getComputedStyle(node);
    if ((overflowY === "auto" || overflowY === "scroll") && node.clientHeight > 0) height = node.clientHeight;
  }
  return height;
}

/** Wires a link, a surface and the DOM to one anywidget model. */
export class ScreenView {
  /** @param {WidgetModel} model @param {HTMLElement} el */
  constructor(model, el) {
    this.model = model;
    this.el = el;
    /** @type {(() => void)[]} */
    this.cleanups = [];
    /** @type {Monitor[]} */
    this.monitors = [];
    /** @type {number | "all" | undefined} */
    this.streamMonitor = "all";
    /** @type {Point | null} where the last frame drawn says its pixels are on the virtual screen */
    this.frameOrigin = null;
    /** @type {Record<string, unknown> | null} screen.info's "stream": its monitor and origin on the virtual screen */
    this.streamInfo = null;
    this.visible = false;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.hideTimer = null;
    /** @type {StateNotice} */
    this.stateNotice = { paused: false, hiddenCount: 0, reason: "" };
    this.linkText = "Not connected yet";
    this.lastRefreshAt = -Infinity;
    this.lastStatsPublishAt = -Infinity;
    this.lastKeyRequestAt = -Infinity;
    this.lastHiddenKey = "";
    this.traits = new TraitPublisher(model);
    // Marks and control.
    /** @type {ToolName} the tool chosen; the control tool replaces it while control mode is on */
    this.toolName = "view";
    this.colour = PALETTE[0][1];
    this.note = { text: "", at: 0 };
    /** @type {ControlState} */
    this.controlState = { granted: false, customerActive: false, resumeIn: null, graceS: null };
    /** The session has ended: marks and control are over; the last picture stays. */
    this.ended = false;

    this.dom = buildLayout(el);
    const { root, canvas } = this.dom;
    /** whether this browser decodes "h264" rects: undefined until asked, null while asking */
    /** @type {boolean | null | undefined} */
    this.h264 = undefined;
    this.surface = new ScreenSurface(canvas, {
      onFrameDone: (body, outcome) => this._frameDone(body, outcome),
      onResize: (width, height, key) => this._streamResized(width, height, key),
    });
    this.transform = new ViewTransform(canvas, () => this._streamOrigin());
    this.stats = new StreamStats();
    this.link = new ScreenLink({
      url: model.get("relay_url"),
      sessionId: model.get("session_id"),
      token: model.get("token"),
      onMessage: (msg, payload) => this._onMessage(msg, payload),
      onState: (state, detail) => this._onLinkState(state, detail),
    });
    this.annotations = new Annotations({
      svg: this.dom.marksSvg,
      layer: this.dom.layer,
      info: this.dom.marksInfo,
      transform: this.transform,
      streamSize: () => ({ width: this.surface.width, height: this.surface.height }),
      send: (name, body) => this.link.send(name, body),
      note: (text) => this._note(text),
      refocus: () => root.focus({ preventScroll: true }),
    });
    this.previews = this.annotations.previews;
    this.pointer = new PointerRouter(this.dom.viewport, this.transform);
    this.tools = this._makeTools();
    this.control = new ControlMode({
      tool: this.tools.control,
      allowed: () => this.controlState.granted && this.link.live,
      send: (name, body) => this.link.send(name, body),
      toStream: (x, y) => this.transform.clientToStream(x, y),
      switching: () => this.annotations.closeText(false),
    });
    this.pointer.setTool(this.tools.view);
    this._renderTools();
    this._listenAll();

    // Stream only while some part of the view can be seen: scrolled into view, its tab shown,
    // the browser tab visible. Closing the socket (rather than pausing) also lets the relay tell
    // the customer truthfully whether anyone is watching.
    const observer = new IntersectionObserver((entries) => {
      this.visible = entries[entries.length - 1].isIntersecting;
      this._syncStreaming();
      this._renderWindowModes(); // where the view is (a cell, a panel) is known once it is shown
    });
    observer.observe(root);
    this.cleanups.push(() => observer.disconnect());
    // The room the picture fits in changes with the cell's width, the window, full screen.
    const resizes = new ResizeObserver(() => this._sizeCanvas());
    resizes.observe(root);
    this.cleanups.push(() => resizes.disconnect());
    this._listen(document, "visibilitychange", () => this._syncStreaming());

    const statsTimer = setInterval(() => this._refreshStats(), STATS_INTERVAL_MS);
    this.cleanups.push(() => clearInterval(statsTimer));
    this.cleanups.push(() => clearTimeout(this.hideTimer ?? undefined));

    this._applyZoom();
    this._renderWindowModes();
    this._renderMonitors();
    this._renderStatus();
  }

  dispose() {
    this.control.release(); // no key or button stays held on the customer's side
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
    this._onModel("msg:custom", (/** @type {KernelMessage | undefined} */ msg) => this._onKernelMessage(msg));
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
      const app = /** @type {{ jupyterapp?: import("./window_modes.js").LabApp }} */ (/** @type {unknown} */ (window)).jupyterapp;
      const { ok, message } = await popOut(root, app);
      this._note(ok ? "Opened in a panel of its own, below the notebook." : message);
    });
    this._listen(document, "fullscreenchange", () => {
      this._renderWindowModes();
      this._sizeCanvas();
      if (isFullScreen(root)) root.focus({ preventScroll: true }); // shortcuts and control keys reach it
    });
    this._listen(window, "resize", () => this._sizeCanvas());
    this._listen(toolbar, "click", (event) => this._onToolbarClick(event));
    // Keys reach the view while it (or a control in it) has the focus; clicking the picture gives it.
    this._listen(root, "keydown", (event) => this._onKey(event, true));
    this._listen(root, "keyup", (event) => this._onKey(event, false));
    this._listen(root, "focusout", (event) => {
      if (!root.contains(/** @type {Node | null} */ (event.relatedTarget))) this.control.release();
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
      // A zoom set from Python that the picker does not list.
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
    // A picture larger than the room scrolls inside a box the size of the room, not the page.
    viewport.style.maxHeight = pannable && !isFullScreen(root) ? `${room.height}px` : "";
    const { width, height } = pictureSize({ width: canvas.width, height: canvas.height }, room, zoom,
                                          devicePixelRatio || 1);
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
    // Only a view in a notebook's cell has an output to open in a panel of its own.
    popOutButton.hidden = root.isConnected && !root.closest(".jp-Notebook");
  }

  _renderMonitors() {
    const { monitorSelect } = this.dom;
    const current = String(this.model.get("monitor"));
    monitorSelect.replaceChildren(
      ...monitorOptions(this.monitors, current).map(([value, text]) => element("option", "", { value, textContent: text })),
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
      ...hiddenBoxes(hidden, width, height).map(({ text, style }) =>
        element("div", "wb-screen-hidden", { textContent: text, style })),
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
    if (statusLine.textContent === text) return; // no layout of the page for the same words
    statusLine.textContent = text;
    statusLine.title = text; // in full, where the line is cut
  }

  /* -- streaming -- */

  _syncStreaming() {
    const shouldStream = this.visible && document.visibilityState !== "hidden" && this.dom.root.isConnected;
    if (shouldStream) {
      clearTimeout(this.hideTimer ?? undefined);
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
        this.ended = false; // new credentials: a session again
        this.linkText = "Connecting…";
        break;
      case "live":
        this.linkText = "Live";
        this.lastStatsPublishAt = -Infinity; // the first figures of a stream go at once
        this.stats.reset();
        this.surface.reset();
        this._configure();
        this._requestKeyFrame(true);
        break;
      case "retrying": {
        this.surface.reset();
        const why = detail.wasWelcomed ? "Connection lost" : `Cannot reach the relay at ${this.link.credentials.url}`;
        this.linkText = `${why}; retrying in ${Math.max(1, Math.round((detail.delay ?? 0) / 1000))} s`;
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
    if (state !== "live") this._setControl(false); // its input would be lost: hand the mouse back now
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
    const body = /** @type {Record<string, any>} */ (msg.body);
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
        break; // other screen.* events are for later versions
    }
  }

  /** @param {FrameBody} body @param {FrameOutcome} outcome */
  _frameDone(body, { skipped, error }) {
    if (error) {
      console.warn("screen: frame not drawn:", /** @type {Error} */ (error).message ?? error);
      this._requestKeyFrame(false);
    }
    if (!skipped && !error) {
      this.stats.frameDrawn(body.captured_at);
      if (body.monitor !== undefined) this.streamMonitor = body.monitor;
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
    // Every frame is acked, drawn or superseded, so the agent's in-flight count never stalls.
    if (Number.isInteger(body.seq) && this.link.send("screen.ack", { seq: body.seq })) this.stats.ackSent();
  }

  /** @param {number} width @param {number} height @param {boolean} key */
  _streamResized(width, height, key) {
    this._sizeCanvas();
    this.previews.resize(width, height);
    // A delta frame on a freshly sized (cleared) canvas leaves holes: ask for a whole picture.
    if (!key) this._requestKeyFrame(true);
  }

  _configure() {
    const monitor = this.model.get("monitor");
    // copy: this viewer draws "copy" rects (scrolls travel as a copy, not as pixels); h264: it decodes
    // "h264" rects (WebCodecs), known once the browser answered (then it says so again).
    const h264 = this.h264 === true;
    this.link.send("screen.configure", { monitor, max_fps: this.model.get("max_fps"), copy: true, h264 });
    if (this.h264 === undefined) {
      this.h264 = null; // asking
      h264Supported().then((supported) => {
        this.h264 = supported;
        if (supported) this._configure();
      });
    }
  }

  /** @param {boolean} force */
  _requestKeyFrame(force) {
    const now = performance.now();
    if (!force && now - this.lastKeyRequestAt < 1000) return;
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
    /** @param {number} value */
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
    const { viewport, canvas } = this.dom;
    const annotations = this.annotations;
    /** @type {ToolHost} */
    const host = {
      contains: (point) => this.transform.containsStream(point),
      clamp: (point) => ({
        x: Math.min(Math.max(point.x, 0), Math.max(0, canvas.width - 1)),
        y: Math.min(Math.max(point.y, 0), Math.max(0, canvas.height - 1)),
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
      toDesktop: (point) => this.transform.streamToDesktop(point.x, point.y),
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
      control: createControlTool(host),
    };
  }

  /** @param {string} name */
  _setTool(name) {
    if (!Object.hasOwn(this.tools, name) || name === "control" || (this.ended && name !== "view")) return;
    const tool = /** @type {ToolName} */ (name);
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
    // Leaving the control tool lets go of the buttons it held.
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
      ended: this.ended,
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
    const button = /** @type {Element | null} */ (event.target)?.closest?.("button");
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
    const target = /** @type {Element} */ (event.target);
    if (target !== this.dom.root && target.matches?.("input, textarea, select")) {
      event.stopPropagation(); // typing a label or choosing a monitor: not for the notebook either
      return;
    }
    if (this.control.key(event, down) || !down) return;
    const action = shortcutFor(event);
    if (action) {
      event.preventDefault();
      event.stopPropagation();
      const [verb, argument] = action.split(":");
      if (this.ended) return; // marks are over with the session
      if (verb === "tool") this._setTool(argument);
      else if (verb === "colour") this._setColour(PALETTE[Number(argument)][1]);
      else if (verb === "undo") this.annotations.undo();
      else if (verb === "clear") this.annotations.clear();
    } else if (!(event.ctrlKey || event.metaKey || event.altKey || event.key === "Tab" || event.key === "Escape"
                 || (event.shiftKey && event.key === "Enter"))) {
      event.stopPropagation(); // single keys are the notebook's cell commands (D D deletes a cell)
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
        // A changed token already restarted the link (change:token); an unchanged one did not.
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
  _listen(target, event, handler, options = undefined) {
    const listener = /** @type {EventListener} */ (handler);
    target.addEventListener(event, listener, options);
    this.cleanups.push(() => target.removeEventListener(event, listener, options));
  }
}
