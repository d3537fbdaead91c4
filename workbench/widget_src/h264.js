// @ts-check
// "h264" rectangles (docs/screen-protocol.md): one H.264 access unit each (Annex B), steps of one
// stream decoded in order by WebCodecs. The agent sends them only to viewers that said they decode
// them (screen.configure {"h264": true}, see h264Supported), and starts every run with an IDR.
// Each picture's planes are converted to RGB by yuv.js (not by the browser), so the canvas holds
// exactly what the Python readers (screenfmt) draw from the same stream.

import { videoFrameToImageData } from "./yuv.js";

/** What the viewer asks WebCodecs for: High profile, level 4, which decodes every x264 preset the agent may use (ultrafast is constrained baseline; superfast and slower ones add CABAC and 8x8 transforms). */
export const H264_CONFIG = Object.freeze({ codec: "avc1.640028", optimizeForLatency: true });

/** Whether this browser decodes H.264 with WebCodecs (false without VideoDecoder, e.g. no secure context).
 * @returns {Promise<boolean>} */
export async function h264Supported() {
  if (typeof VideoDecoder === "undefined") return false;
  try {
    return Boolean((await VideoDecoder.isConfigSupported({ ...H264_CONFIG })).supported);
  } catch {
    return false;
  }
}

/** The NAL unit types of an Annex B access unit, in order ([] when it does not start with a start code).
 * @param {Uint8Array} bytes @returns {number[]} */
export function nalTypes(bytes) {
  const starts = bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && (bytes[2] === 1 || (bytes[2] === 0 && bytes[3] === 1));
  if (!starts) return [];
  const types = [];
  for (let i = 0; i + 3 < bytes.length; i += 1) {
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) {
      types.push(bytes[i + 3] & 0x1f);
      i += 2;
    }
  }
  return types;
}

/** One unit on its way through the decoder: where its picture goes, and the rect's size.
 * @typedef {{ resolve: (image: Promise<ImageData>) => void, reject: (err: unknown) => void,
 *   width: number, height: number }} Waiting */

/** The decoder of one stream's "h264" rectangles: pictures come out in the order units went in. */
export class H264Stream {
  constructor() {
    /** @type {VideoDecoder | null} */
    this.decoder = null;
    /** @type {Waiting[]} */
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
    const decoder = /** @type {VideoDecoder} */ (this.decoder);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject, width, height });
      try {
        const data = /** @type {Uint8Array<ArrayBuffer>} */ (bytes);
        decoder.decode(new EncodedVideoChunk({ type: idr ? "key" : "delta", timestamp: this.count++, data }));
      } catch (err) {
        this.pending.pop();
        reject(err);
      }
    });
  }

  _open() {
    /** @type {Waiting[]} */
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
        image.finally(() => video.close()).catch(() => {});
        waiting.resolve(image);
      },
      error: (err) => {
        for (const waiting of pending.splice(0)) waiting.reject(err);
      },
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
}
