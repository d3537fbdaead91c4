// @ts-check
// Format 2 of a screen.frame (docs/screen-protocol.md, wire/frame_format.py): the JSON
// body is {"fmt": 2} (plus "monitor" for one monitor, "hidden" when something is hidden) and the
// frame's header and rectangles' table are binary, big endian, ahead of the rectangles' bytes:
//   u32 seq | f64 captured_at | u16 width | u16 height | u8 flags (1 key, 2 paused) | u16 count
//   count x (u8 codec | u16 x | u16 y | u16 w | u16 h | copy: u16 sx, sy | fill: u8 r, g, b | else u32 len)
// (codecs 0 copy, 1 fill, 2 png, 3 jpeg, 4 raw, 5 pal, 6 h264)
// Format 3 (what the agent sends now; body {"fmt": 3, ...}) is leaner: varints (LEB128), and the size
// and time base only in key frames, kept in a StreamState by the reader:
//   u8 flags (1 key, 2 paused, 4 size) | varint seq | key: f64 base, else varint ms since base
//   | size flag: varint width, height | varint count
//   | count x (u8 codec | varint x, y, w, h | copy: varint sx, sy | fill: u8 r, g, b | else varint len)
// unpackFrame turns either back into the body of format 1, so the rest of the viewer reads one shape.

/** Codec names by their number on the wire. */
export const CODECS = Object.freeze(["copy", "fill", "png", "jpeg", "raw", "pal", "h264"]);
const HEAD = 19;
const RECT = 9;
const FLAG_KEY = 1;
const FLAG_PAUSED = 2;
const FLAG_SIZE = 4;

/** @typedef {{ width: number, height: number, base: number, known: boolean }} StreamState */

// A frame's picture is bounded as screenfmt/rects.py bounds it (change both together): a side of at
// most MAX_SIDE pixels, and MAX_PIXELS in all (three 8K monitors); a few header bytes must not
// make the canvas ask for gigabytes.
export const MAX_SIDE = 32767;
export const MAX_PIXELS = 3 * 7680 * 4320;

/** Throws an Error when a frame of width x height is over the bounds above.
 * @param {number} width @param {number} height */
export function checkFrameSize(width, height) {
  if (width > MAX_SIDE || height > MAX_SIDE) throw new Error(`frame of ${width}x${height}, over ${MAX_SIDE} pixels a side`);
  if (width * height > MAX_PIXELS) throw new Error(`frame of ${width}x${height}, over ${MAX_PIXELS} pixels in all`);
}

/** A fresh stream's state: no key frame read yet. @returns {StreamState} */
export function newStreamState() {
  return { width: 0, height: 0, base: 0, known: false };
}

/** A format-3 frame that is not a key frame, read before its stream's first key frame: skip it
 * (ack its seq); the key frame the agent sends every new viewer follows. */
export class FrameNeedsKey extends Error {
  /** @param {number} seq */
  constructor(seq) {
    super(`format-3 frame ${seq} before any key frame of its stream`);
    this.code = "frame_needs_key";
    this.seq = seq;
  }
}

/** Reads varints (unsigned LEB128, at most 5 bytes, below 2**32) off a frame's bytes. */
class Reader {
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
      value += (byte & 0x7f) * scale;
      if (!(byte & 0x80)) {
        if (value > 0xffffffff) break;
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
}

/**
 * A format-3 frame as the body of format 1 and its rectangles' bytes; updates *state* only when
 * the whole header reads. Throws FrameNeedsKey, or an Error naming what is malformed.
 * @param {Record<string, any>} body @param {Uint8Array} payload @param {StreamState} state
 * @returns {{ body: Record<string, any>, payload: Uint8Array }}
 */
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
    if (codec === undefined) throw new Error(`format-3 rectangle with codec number ${number}`);
    /** @type {Record<string, any>} */
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
      seq, key, width, height, captured_at: capturedAt, rects, hidden: Array.isArray(body.hidden) ? body.hidden : [],
      paused: Boolean(flags & FLAG_PAUSED), monitor: body.monitor ?? "all",
      x: Number.isInteger(body.x) ? body.x : 0, y: Number.isInteger(body.y) ? body.y : 0,
    },
    payload: payload.subarray(reader.offset),
  };
}

/**
 * The format-1 body and the rectangles' bytes of a frame of any format; throws an Error
 * naming what is wrong when a format-2 or -3 payload is cut short or names an unknown codec
 * (FrameNeedsKey for a format-3 frame before its stream's first key frame).
 * @param {Record<string, any>} body the event's JSON body
 * @param {Uint8Array} payload the event's bytes
 * @param {StreamState} [state] the stream's (format 3's size and time base), kept across its frames
 * @returns {{ body: Record<string, any>, payload: Uint8Array }}
 */
export function unpackFrame(body, payload, state = newStreamState()) {
  if (body.fmt === undefined) return { body, payload };
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
    if (codec === undefined) throw new Error(`format-2 rectangle with codec number ${view.getUint8(offset)}`);
    /** @type {Record<string, any>} */
    const rect = {
      x: view.getUint16(offset + 1), y: view.getUint16(offset + 3),
      w: view.getUint16(offset + 5), h: view.getUint16(offset + 7), codec, len: 0,
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
      seq: view.getUint32(0), key: Boolean(flags & FLAG_KEY), width: view.getUint16(12), height: view.getUint16(14),
      captured_at: view.getFloat64(4), rects, hidden: Array.isArray(body.hidden) ? body.hidden : [],
      paused: Boolean(flags & FLAG_PAUSED), monitor: body.monitor ?? "all",
      // a format-2 agent always knows where its frame is: absent means the virtual screen's 0, 0
      x: Number.isInteger(body.x) ? body.x : 0, y: Number.isInteger(body.y) ? body.y : 0,
    },
    payload: payload.subarray(offset),
  };
}

/** Bytes of a deflate-raw stream, inflated by the browser's own DecompressionStream.
 * @param {Uint8Array} bytes @returns {Promise<Uint8Array>} */
async function inflateRaw(bytes) {
  const stream = new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (bytes)]).stream()
    .pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * A "pal" rectangle (docs/screen-protocol.md) as ImageData: u8 colours-1 (at most 16), the
 * colours' r,g,b, u8 mode (0: indices as they are, 1: deflate-raw), then the indices at 1, 2
 * or 4 bits (2, 4, 16 colours), first pixel in the high bits, rows padded to whole bytes.
 * Rejects on any inconsistency.
 * @param {Uint8Array} bytes @param {number} width @param {number} height
 * @returns {Promise<ImageData>}
 */
export async function decodePalette(bytes, width, height) {
  if (bytes.byteLength < 1) throw new Error("pal rect without a palette");
  const count = bytes[0] + 1;
  if (count > 16 || bytes.byteLength < 2 + 3 * count) throw new Error("pal rect of a bad palette");
  const mode = bytes[1 + 3 * count];
  if (mode !== 0 && mode !== 1) throw new Error(`pal rect of mode ${mode}`);
  const bits = count <= 2 ? 1 : count <= 4 ? 2 : 4;
  const rowBytes = Math.ceil((width * bits) / 8);
  const packed = mode === 1 ? await inflateRaw(bytes.subarray(2 + 3 * count)) : bytes.subarray(2 + 3 * count);
  if (packed.byteLength !== rowBytes * height) throw new Error("pal rect of the wrong size");
  const rgba = new Uint8ClampedArray(width * height * 4);
  const mask = (1 << bits) - 1;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const bit = x * bits;
      const index = (packed[y * rowBytes + (bit >> 3)] >> (8 - bits - (bit & 7))) & mask;
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
