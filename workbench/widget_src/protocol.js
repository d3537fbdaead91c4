// @ts-check
// The wire as the viewer sees it (docs/screen-protocol.md): WB binary frames and JSON event
// messages. Pure: no socket, no DOM.

export const PROTOCOL_VERSION = 1;

/** A whole number ≥ 0, as geometry and counts on the wire must be.
 * @param {unknown} value
 * @returns {value is number} */
export function isInt(value) {
  return Number.isInteger(value) && /** @type {number} */ (value) >= 0;
}

/** @typedef {{ v: number, type: string, [field: string]: unknown }} Message */
/** @typedef {{ msg: Message, payload: Uint8Array }} Decoded */

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** The shortest format-2 payload: its fixed header (frame_format.js). */
const FORMAT_2_HEAD = 19;
/** Format 3 travels in envelope version 2; its shortest payload is its flags and seq. */
const LEAN_VERSION = 2;
const FORMAT_3_HEAD = 2;

/** A compact screen frame (`"WF" | 1 | u16 BE extra length | extra JSON | format-2 payload`, or
 * `"WF" | 2 | varint extra length | extra JSON | format-3 payload`, wire/protocol.py): the
 * screen.frame event it stands for, body `{fmt: 2 or 3, ...extra}`.
 * Throws on a malformed one.
 * @param {Uint8Array} bytes
 * @returns {Decoded} */
function decodeCompactFrame(bytes) {
  if (bytes.byteLength < 4) throw new Error("compact screen frame shorter than its prefix");
  let extraLength = 0;
  let start = 5;
  let fmt = 2;
  if (bytes[2] === LEAN_VERSION) {
    // version 2: format 3, the extra JSON's length a varint (LEB128, at most 3 bytes, ≤ 65535)
    fmt = 3;
    start = 0;
    for (let i = 3, scale = 1; i < Math.min(6, bytes.byteLength); i += 1, scale *= 128) {
      extraLength += (bytes[i] & 0x7f) * scale;
      if (!(bytes[i] & 0x80)) {
        start = i + 1;
        break;
      }
    }
    if (!start || extraLength > 0xffff) throw new Error("compact screen frame: its extra length is cut short or out of range");
  } else if (bytes[2] === PROTOCOL_VERSION) {
    if (bytes.byteLength < 5) throw new Error("compact screen frame shorter than its prefix");
    extraLength = (bytes[3] << 8) | bytes[4];
  } else {
    throw new Error(`protocol version ${bytes[2]}`);
  }
  if (start + extraLength > bytes.byteLength) throw new Error("compact screen frame: its extra fields run past the frame");
  /** @type {Record<string, unknown>} */
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

/** Decode one websocket message: text JSON, `"WB" | version | u32 BE length | JSON | payload`,
 * or a compact screen frame (`"WF"`, see decodeCompactFrame).
 * Returns {msg, payload} (payload a Uint8Array, empty for text). Throws on a malformed frame.
 * @param {string | ArrayBuffer | Uint8Array} data
 * @returns {Decoded} */
export function decodeMessage(data) {
  let msg;
  /** @type {Uint8Array} */
  let payload = new Uint8Array(0);
  if (typeof data === "string") {
    msg = JSON.parse(data);
  } else {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (bytes.byteLength >= 2 && bytes[0] === 0x57 && bytes[1] === 0x46) return decodeCompactFrame(bytes);
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

/** Encode a binary frame (the inverse of decodeMessage); used by tests and, later, uploads.
 * @param {Record<string, unknown>} header
 * @param {Uint8Array} [payload]
 * @returns {Uint8Array} */
export function encodeBinary(header, payload = new Uint8Array(0)) {
  const json = textEncoder.encode(JSON.stringify({ v: PROTOCOL_VERSION, ...header }));
  const out = new Uint8Array(7 + json.byteLength + payload.byteLength);
  out.set([0x57, 0x42, PROTOCOL_VERSION], 0);
  new DataView(out.buffer).setUint32(3, json.byteLength, false);
  out.set(json, 7);
  out.set(payload, 7 + json.byteLength);
  return out;
}

/** A compact screen frame (the inverse of decodeCompactFrame; what the agent sends, for tests).
 * @param {Record<string, unknown>} extra the body's fields besides fmt
 * @param {Uint8Array} payload the format-2 payload
 * @returns {Uint8Array} */
export function encodeCompactFrame(extra, payload) {
  const json = Object.keys(extra).length ? textEncoder.encode(JSON.stringify(extra)) : new Uint8Array(0);
  const out = new Uint8Array(5 + json.byteLength + payload.byteLength);
  out.set([0x57, 0x46, PROTOCOL_VERSION, json.byteLength >> 8, json.byteLength & 0xff], 0);
  out.set(json, 5);
  out.set(payload, 5 + json.byteLength);
  return out;
}

/** @param {string} name @param {Record<string, unknown>} [body] @returns {string} */
export function eventMessage(name, body = {}) {
  return JSON.stringify({ v: PROTOCOL_VERSION, type: "event", name, body });
}

/** @param {string} sessionId @param {string} token @returns {string} */
export function helloMessage(sessionId, token) {
  return JSON.stringify({ v: PROTOCOL_VERSION, type: "hello", role: "viewer", session_id: sessionId, token });
}
