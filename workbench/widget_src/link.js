// @ts-check
// The viewer's websocket to the relay: hello/welcome, reconnect with backoff, stop. It knows
// nothing of screens: frames come out of onMessage, and annotation and control events go in
// through send().

import { backoffDelays } from "./backoff.js";
import { decodeMessage, eventMessage, helloMessage } from "./protocol.js";

const HELLO_TIMEOUT_MS = 10_000;
// A connection that lived this long resets the backoff; a relay that welcomes and drops at
// once must not be hammered.
const STABLE_CONNECTION_MS = 5_000;

/** @typedef {import("./protocol.js").Message} Message */
/** @typedef {"idle" | "connecting" | "live" | "retrying" | "refused" | "ended"} LinkState */
/**
 * @typedef {object} LinkDetail
 * @property {number} [delay] ms until the next attempt ("retrying")
 * @property {number | string} [code] the close code, or the relay's error code
 * @property {string} [reason] the close reason
 * @property {boolean} [wasWelcomed] whether the dropped connection had been welcomed
 * @property {string} [message] why the relay refused or ended the view
 * @property {string | null} [viewerId] the relay's id for this viewer ("live")
 */
/** @typedef {{ url: string, sessionId: string, token: string }} Credentials */
/**
 * What the link needs of a WebSocket (the browser's, or a test's stand-in).
 * @typedef {object} SocketLike
 * @property {string} binaryType
 * @property {number} readyState
 * @property {(data: string) => void} send
 * @property {(code?: number, reason?: string) => void} close
 * @property {(() => void) | null} onopen
 * @property {((event: { data: string | ArrayBuffer }) => void) | null} onmessage
 * @property {((event: { code: number, reason: string }) => void) | null} onclose
 * @property {(() => void) | null} onerror
 */
/** @typedef {new (url: string) => SocketLike} SocketClass */
/**
 * @typedef {object} LinkOptions
 * @property {string} url
 * @property {string} sessionId
 * @property {string} token
 * @property {(msg: Message, payload: Uint8Array) => void} onMessage
 * @property {(state: LinkState, detail: LinkDetail) => void} onState
 * @property {SocketClass} [WebSocketImpl]
 */

/** The viewer's websocket to the relay. States reported through onState(state, detail):
 *   "idle"       not wanted (view hidden or closed)
 *   "connecting" socket opening / hello sent
 *   "live"       welcomed; events flow (onMessage)
 *   "retrying"   dropped; reconnects after detail.delay ms
 *   "refused"    the relay refused the token (terminal until restart() with new credentials)
 *   "ended"      the session is over (terminal)
 * It knows nothing of screens: annotation and control events go through send() too. */
export class ScreenLink {
  /** @param {LinkOptions} options */
  constructor({ url, sessionId, token, onMessage, onState,
                WebSocketImpl = /** @type {SocketClass} */ (/** @type {unknown} */ (globalThis.WebSocket)) }) {
    /** @type {Credentials} */
    this.credentials = { url, sessionId, token };
    this.onMessage = onMessage;
    this.onState = onState;
    this.WebSocketImpl = WebSocketImpl;
    /** @type {SocketLike | null} */
    this.ws = null;
    this.wanted = false;
    this.welcomedAt = 0;
    /** @type {"refused" | "ended" | null} */
    this.terminal = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.retryTimer = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.helloTimer = undefined;
    this.delays = backoffDelays();
    /** @type {LinkState} */
    this.state = "idle";
    /** @type {string | null} */
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

  /** New URL, session or token: drop the current socket, forget a refusal, and reconnect if wanted.
   * @param {Partial<Credentials>} [credentials] */
  restart(credentials = {}) {
    Object.assign(this.credentials, credentials);
    this.terminal = null;
    this.delays = backoffDelays();
    this._clearRetry();
    this._close(1000, "new credentials");
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
    this.onMessage = () => {};
    this.onState = () => {};
    this.stop();
  }

  _connect() {
    const { url, sessionId, token } = this.credentials;
    /** @type {SocketLike} */
    let ws;
    try {
      ws = new this.WebSocketImpl(url);
    } catch (err) {
      // A malformed URL is not going to get better by retrying.
      this.terminal = "refused";
      this._setState("refused", { message: `cannot open ${url}: ${/** @type {Error} */ (err).message}` });
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

  /** @param {SocketLike} ws @param {string | ArrayBuffer} data */
  _onData(ws, data) {
    if (ws !== this.ws) return;
    let decoded;
    try {
      decoded = decodeMessage(data);
    } catch (err) {
      console.warn("screen: dropped a malformed message:", /** @type {Error} */ (err).message);
      return;
    }
    const { msg, payload } = decoded;
    if (msg.type === "error" && (msg.code === "unauthorized" || msg.code === "session_ended")) {
      this.terminal = msg.code === "unauthorized" ? "refused" : "ended";
      this._close(1000, msg.code);
      this._setState(this.terminal, { code: msg.code, message: /** @type {string | undefined} */ (msg.message) });
      return;
    }
    if (!this.welcomedAt) {
      if (msg.type === "welcome") {
        clearTimeout(this.helloTimer);
        this.welcomedAt = performance.now();
        this.viewerId = /** @type {string | undefined} */ (msg.viewer_id) ?? null;
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
      // already closing
    }
  }

  _clearRetry() {
    clearTimeout(this.retryTimer ?? undefined);
    this.retryTimer = null;
  }

  /** @param {LinkState} state @param {LinkDetail} [detail] */
  _setState(state, detail = {}) {
    this.state = state;
    this.onState(state, detail);
  }
}
