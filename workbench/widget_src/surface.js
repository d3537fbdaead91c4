// @ts-check
// The picture: decodes frames and draws them, in order, on a canvas kept at the stream's own
// resolution; reports each frame done so that the caller can ack it.

import { FrameNeedsKey, decodePalette, newStreamState, unpackFrame } from "./frame_format.js";
import { H264Stream } from "./h264.js";
import { isInt } from "./protocol.js";

// The agent's own fill (agent/screen/hidden.py FILL_BGRA), so the canvas equals its picture.
const HIDDEN_FILL = "#303030";

/**
 * One rectangle of a frame (docs/screen-protocol.md), as it comes off the wire.
 * @typedef {object} FrameRect
 * @property {number} x
 * @property {number} y
 * @property {number} w
 * @property {number} h
 * @property {number} len bytes of the payload it takes
 * @property {string} codec "jpeg", "png", "pal", "raw" (BGRX), "copy", "fill" or "h264"
 * @property {number} [sx] "copy": where the pixels come from
 * @property {number} [sy]
 * @property {number[]} [rgb] "fill": the colour, [r, g, b]
 */
/** @typedef {{ x: number, y: number, w: number, h: number, label?: unknown }} HiddenArea */
/**
 * A screen.frame event's body (fields unchecked until used: it comes from the wire).
 * @typedef {object} FrameBody
 * @property {number} [seq]
 * @property {boolean} [key] a whole picture, not a delta
 * @property {number} [width]
 * @property {number} [height]
 * @property {FrameRect[]} [rects]
 * @property {HiddenArea[]} [hidden]
 * @property {number | "all"} [monitor]
 * @property {number} [x] where the frame's top left is on the virtual screen (desktop px)
 * @property {number} [y]
 * @property {number} [captured_at] epoch ms
 * @property {boolean} [paused]
 */
/** @typedef {{ copyFrom: { x: number, y: number } }} CopyFrom */
/** @typedef {{ fill: string }} Fill */
/** @typedef {ImageBitmap | VideoFrame | ImageData | CopyFrom | Fill} Drawable */
/** @typedef {{ skipped: boolean, error: unknown }} FrameOutcome */
/** @typedef {{ body: FrameBody, generation: number, skipped: boolean, images: Promise<Drawable[]> }} FrameJob */

/** @param {readonly (Drawable | null)[] | null | undefined} images */
function closeImages(images) {
  for (const image of images ?? []) /** @type {{ close?: () => void } | null} */ (image)?.close?.();
}

/** "raw" pixels are B,G,R,X bytes (docs/screen-protocol.md); ImageData wants R,G,B,A.
 * @param {Uint8Array} bytes @param {number} width @param {number} height
 * @returns {ImageData} */
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

/** Whether PNG goes through ImageDecoder (see decodeImage). */
let pngDecoder = typeof ImageDecoder === "function";

/** A PNG or JPEG rectangle's picture. PNG goes through WebCodecs' ImageDecoder where the page has it
 * (a secure context: https, or localhost as JupyterLab usually is): it decodes the bytes where they are,
 * where a Blob is first registered with the browser process (a round trip per rectangle) and read
 * back from it. Its frames hold the PNG's own RGB, the same pixels createImageBitmap gives. JPEG keeps
 * createImageBitmap: ImageDecoder may hand back YUV for the canvas to convert on its own terms, and the
 * picture must stay the one screenfmt/ decodes.
 * @param {Uint8Array} bytes @param {"image/png" | "image/jpeg"} type
 * @returns {Promise<ImageBitmap | VideoFrame>} */
async function decodeImage(bytes, type) {
  if (type === "image/png" && pngDecoder) {
    /** @type {ImageDecoder | null} */
    let decoder = null;
    try {
      decoder = new ImageDecoder({ data: bytes, type });
      return (await decoder.decode()).image;
    } catch {
      // A browser whose ImageDecoder does not take PNG: createImageBitmap from now on (which
      // rejects in turn if the bytes are bad).
      pngDecoder = false;
    } finally {
      decoder?.close();
    }
  }
  // A websocket's ArrayBuffer, never a SharedArrayBuffer.
  return createImageBitmap(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (bytes)], { type }));
}

/** Start decoding every rect of a frame (format 1: unpackFrame has already read a format-2
 * frame's binary table); resolves to one drawable per rect: an ImageBitmap or VideoFrame (jpeg, png), an
 * ImageData (raw, pal), {copyFrom: {x, y}} for a "copy" rect (drawn from the picture itself), or
 * {fill: colour} for a "fill" rect. Rejects, closing what was decoded, on any error.
 * An "h264" rect is decoded, in order, by *video* (the stream's H264Stream) into an ImageData.
 * @param {FrameBody} body
 * @param {Uint8Array} payload
 * @param {H264Stream | null} [video]
 * @returns {Promise<Drawable[]>} */
export function decodeRects(body, payload, video = null) {
  const rects = Array.isArray(body.rects) ? body.rects : [];
  let offset = 0;
  /** @type {Promise<Drawable>[]} */
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
        return decodeImage(bytes, `image/${rect.codec}`);
      case "pal":
        return decodePalette(bytes, rect.w, rect.h);
      case "h264":
        if (!video) return Promise.reject(new Error("h264 rect without a decoder"));
        return video.decode(bytes, rect.w, rect.h);
      case "raw":
        if (bytes.byteLength !== rect.w * rect.h * 4) return Promise.reject(new Error("raw rect of wrong size"));
        return Promise.resolve(bgrxToImageData(bytes, rect.w, rect.h));
      case "copy": {
        const { sx, sy } = rect;
        const inside = isInt(sx) && isInt(sy) && sx + rect.w <= /** @type {number} */ (body.width)
          && sy + rect.h <= /** @type {number} */ (body.height);
        if (!inside || rect.len !== 0) return Promise.reject(new Error("copy rect from outside the frame"));
        return Promise.resolve({ copyFrom: { x: sx, y: sy } });
      }
      case "fill": {
        const { rgb } = rect;
        const colour = Array.isArray(rgb) && rgb.length === 3 && rgb.every((c) => isInt(c) && c <= 255);
        if (!colour || rect.len !== 0) return Promise.reject(new Error("fill rect without a colour"));
        return Promise.resolve({ fill: `rgb(${rgb[0]},${rgb[1]},${rgb[2]})` });
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
    return /** @type {Drawable[]} */ (images);
  });
}

/**
 * @typedef {object} SurfaceCallbacks
 * @property {(body: FrameBody, outcome: FrameOutcome) => void} [onFrameDone]
 * @property {(width: number, height: number, key: boolean) => void} [onResize]
 * @property {() => HTMLCanvasElement | null} [makeScratch] a canvas off the page for "copy" rects (null: none,
 *   copy within the picture itself)
 */

/** A canvas off the page, or null where there is no DOM to make one. @returns {HTMLCanvasElement | null} */
function newScratchCanvas() {
  return typeof document !== "undefined" && typeof document.createElement === "function"
    ? document.createElement("canvas") : null;
}

/** The picture: a canvas whose backing store is the stream's own pixel space (so getImageData
 * reads stream pixels and zoom is only CSS). Frames are decoded in parallel as they arrive and
 * drawn strictly in order (they are deltas); a key frame supersedes the frames queued before it.
 * onFrameDone(body, {skipped, error}) fires once per frame, in order: the caller acks it. */
export class ScreenSurface {
  /** @param {HTMLCanvasElement} canvas @param {SurfaceCallbacks} [callbacks] */
  constructor(canvas, { onFrameDone = () => {}, onResize = () => {}, makeScratch = newScratchCanvas } = {}) {
    this.canvas = canvas;
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d", { alpha: false }));
    // Every draw here is 1:1; no smoothing lets the browser take its plain copy path.
    this.ctx.imageSmoothingEnabled = false;
    this.makeScratch = makeScratch;
    /** @type {{ canvas: HTMLCanvasElement, ctx: CanvasRenderingContext2D } | null} */
    this.scratch = null;
    this.onFrameDone = onFrameDone;
    this.onResize = onResize;
    /** @type {FrameJob[]} */
    this.queue = [];
    this.pumping = false;
    this.generation = 0;
    /** @type {HiddenArea[]} */
    this.hidden = [];
    this.framesDrawn = 0;
    /** format 3's size and time base, from the stream's last key frame */
    this.stream = newStreamState();
    /** the stream's H.264 decoder ("h264" rects), reset with the stream */
    this.video = new H264Stream();
  }

  get width() {
    return this.canvas.width;
  }

  get height() {
    return this.canvas.height;
  }

  /** A frame as it came off the wire (either format: see frame_format.js).
   * @param {FrameBody} wireBody @param {Uint8Array} wirePayload */
  push(wireBody, wirePayload) {
    let body = wireBody;
    /** @type {Promise<Drawable[]>} */
    let images;
    try {
      const frame = unpackFrame(wireBody, wirePayload, this.stream);
      body = /** @type {FrameBody} */ (frame.body);
      images = decodeRects(body, frame.payload, this.video);
    } catch (err) {
      // before its stream's first key frame: not drawn, but acked by its seq (the key frame follows)
      if (err instanceof FrameNeedsKey) body = /** @type {FrameBody} */ ({ seq: err.seq, key: false });
      images = Promise.reject(err);
    }
    /** @type {FrameJob} */
    const job = { body, generation: this.generation, skipped: false, images };
    job.images.catch(() => {}); // handled in _pump; avoid an unhandled rejection meanwhile
    if (body.key) for (const queued of this.queue) queued.skipped = true;
    this.queue.push(job);
    this._pump();
  }

  /** Forget queued frames (a new connection starts a new stream); the picture stays. */
  reset() {
    this.generation += 1;
    this.stream = newStreamState();
    this.video.close();
    this.video = new H264Stream();
    for (const job of this.queue) job.images.then(closeImages, () => {});
    this.queue = [];
  }

  dispose() {
    this.reset();
    this.scratch = null;
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
        /** @type {Drawable[] | null} */
        let images = null;
        /** @type {unknown} */
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
            this._draw(job.body, /** @type {Drawable[]} */ (images));
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

  /** @param {FrameBody} body @param {Drawable[]} images */
  _draw(body, images) {
    const { canvas, ctx } = this;
    if (isInt(body.width) && isInt(body.height) && (canvas.width !== body.width || canvas.height !== body.height)) {
      canvas.width = body.width; // reallocates and clears the backing store
      canvas.height = body.height;
      ctx.imageSmoothingEnabled = false; // the new backing store's context starts afresh
      this.onResize(body.width, body.height, Boolean(body.key));
    }
    const rects = Array.isArray(body.rects) ? body.rects : [];
    rects.forEach((rect, index) => {
      const image = images[index];
      if (image instanceof ImageData) {
        ctx.putImageData(image, rect.x, rect.y);
      } else if ("fill" in image) {
        ctx.fillStyle = image.fill;
        ctx.fillRect(rect.x, rect.y, rect.w, rect.h);
      } else if ("copyFrom" in image) {
        this._copy(image.copyFrom, rect);
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

  /** A "copy" rect: *rect*'s pixels from *from* in the picture as it stands, by way of a scratch
   * canvas. Drawing the picture onto itself would be right too (the browser behaves as if the
   * source were copied first, so a scroll's overlapping source and destination come out right),
   * but Chromium then copies the whole picture to take its snapshot: in a scroll of most of the
   * screen at 30 frames/s, about a third of the page's CPU. Copying the rectangle out and back
   * costs less than that.
   * @param {{ x: number, y: number }} from @param {FrameRect} rect */
  _copy(from, rect) {
    const { canvas, ctx } = this;
    const scratch = this._scratchFor(rect.w, rect.h);
    if (scratch === null) {
      ctx.drawImage(canvas, from.x, from.y, rect.w, rect.h, rect.x, rect.y, rect.w, rect.h);
      return;
    }
    scratch.ctx.drawImage(canvas, from.x, from.y, rect.w, rect.h, 0, 0, rect.w, rect.h);
    ctx.drawImage(scratch.canvas, 0, 0, rect.w, rect.h, rect.x, rect.y, rect.w, rect.h);
  }

  /** The scratch canvas, at least *width* × *height* (grown, never shrunk), or null where none can be made.
   * @param {number} width @param {number} height */
  _scratchFor(width, height) {
    if (this.scratch === null) {
      const canvas = this.makeScratch();
      const ctx = canvas?.getContext("2d", { alpha: false });
      if (!canvas || !ctx) return null;
      this.scratch = { canvas, ctx: /** @type {CanvasRenderingContext2D} */ (ctx) };
    }
    const { canvas, ctx } = this.scratch;
    if (canvas.width < width || canvas.height < height) {
      canvas.width = Math.max(canvas.width, width);
      canvas.height = Math.max(canvas.height, height);
    }
    ctx.imageSmoothingEnabled = false;
    return this.scratch;
  }
}
