// @ts-check
// Format 2 of a screen.frame (docs/screen-protocol.md, agent/screen/frame_format.py): the JSON
// body is {"fmt": 2} (plus "monitor" for one monitor, "hidden" when something is hidden) and the
// frame's header and rectangles' table are binary, big endian, ahead of the rectangles' bytes:
//   u32 seq | f64 captured_at | u16 width | u16 height | u8 flags (1 key, 2 paused) | u16 count
//   count x (u8 codec | u16 x | u16 y | u16 w | u16 h | copy: u16 sx, sy | fill: u8 r, g, b | else u32 len)
// unpackFrame turns it back into the body of format 1, so the rest of the viewer reads one shape.

/** Codec names by their number on the wire. */
export const CODECS = Object.freeze(["copy", "fill", "png", "jpeg", "raw"]);
const HEAD = 19;
const RECT = 9;
const FLAG_KEY = 1;
const FLAG_PAUSED = 2;

/**
 * The format-1 body and the rectangles' bytes of a frame of either format; throws an Error
 * naming what is wrong when a format-2 payload is cut short or names an unknown codec.
 * @param {Record<string, any>} body the event's JSON body
 * @param {Uint8Array} payload the event's bytes
 * @returns {{ body: Record<string, any>, payload: Uint8Array }}
 */
export function unpackFrame(body, payload) {
  if (body.fmt === undefined) return { body, payload };
  if (body.fmt !== 2) throw new Error(`frame format ${String(body.fmt)}; this viewer reads 1 and 2`);
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
  return {
    body: {
      seq: view.getUint32(0), key: Boolean(flags & FLAG_KEY), width: view.getUint16(12), height: view.getUint16(14),
      captured_at: view.getFloat64(4), rects, hidden: Array.isArray(body.hidden) ? body.hidden : [],
      paused: Boolean(flags & FLAG_PAUSED), monitor: body.monitor ?? "all",
    },
    payload: payload.subarray(offset),
  };
}
