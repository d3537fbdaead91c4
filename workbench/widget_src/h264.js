// @ts-check
// "h264" rectangles (docs/screen-protocol.md): one H.264 access unit each (Annex B), steps of one
// stream decoded in order by WebCodecs. The agent sends them only to viewers that said they decode
// them (screen.configure {"h264": true}, see h264Supported), and starts every run with an IDR.

/** What the viewer asks WebCodecs for: constrained baseline (x264's ultrafast, no B-frames). */
export const H264_CONFIG = Object.freeze({ codec: "avc1.42E01F", optimizeForLatency: true });

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

/** A decoded picture ready to draw: its top-left w x h pixels are the rectangle.
 * @typedef {{ video: VideoFrame, close: () => void }} VideoPicture */

/** The decoder of one stream's "h264" rectangles: pictures come out in the order units went in. */
export class H264Stream {
  constructor() {
    /** @type {VideoDecoder | null} */
    this.decoder = null;
    /** @type {{ resolve: (picture: VideoPicture) => void, reject: (err: unknown) => void }[]} */
    this.pending = [];
    this.count = 0;
  }

  /** Decode one access unit; resolves to its picture. Rejects a unit that needs earlier pictures
   * while the decoder has none (before the stream's IDR, or after a decoding error).
   * @param {Uint8Array} bytes @returns {Promise<VideoPicture>} */
  decode(bytes) {
    const types = nalTypes(bytes);
    if (!types.length) return Promise.reject(new Error("h264 rectangle that is not an Annex B access unit"));
    const idr = types.includes(5);
    if (!this.decoder || this.decoder.state === "closed") {
      if (!idr) return Promise.reject(new Error("h264 rectangle before its stream's IDR"));
      this._open();
    }
    const decoder = /** @type {VideoDecoder} */ (this.decoder);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
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
    /** @type {{ resolve: (picture: VideoPicture) => void, reject: (err: unknown) => void }[]} */
    const pending = [];
    this.pending = pending;
    const decoder = new VideoDecoder({
      output: (video) => {
        const waiting = pending.shift();
        if (waiting) waiting.resolve({ video, close: () => video.close() });
        else video.close();
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
