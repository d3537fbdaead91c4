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

/** Decode one websocket message: text JSON, or `"WB" | version | u32 BE length | JSON | payload`.
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

/** @param {string} name @param {Record<string, unknown>} [body] @returns {string} */
export function eventMessage(name, body = {}) {
  return JSON.stringify({ v: PROTOCOL_VERSION, type: "event", name, body });
}

/** @param {string} sessionId @param {string} token @returns {string} */
export function helloMessage(sessionId, token) {
  return JSON.stringify({ v: PROTOCOL_VERSION, type: "hello", role: "viewer", session_id: sessionId, token });
}
