// @ts-check
// YUV 4:2:0 -> RGB in integers: the one conversion every reader of "h264" rects uses, so the canvas
// holds the very pixels of the Python readers (screenfmt/yuv.py: the same formula and constants;
// change both together). H.264 decoding is bit-exact; the browser's own YUV->RGB (drawImage of a
// VideoFrame) rounds otherwise, so the widget converts the decoded planes itself:
//   BT.601 limited range; chroma sample (x >> 1, y >> 1) for pixel (x, y); coefficients x 2**16;
//   R = clamp((Y_GAIN*(Y-16) + V_TO_R*(V-128) + 32768) >> 16)
//   G = clamp((Y_GAIN*(Y-16) - U_TO_G*(U-128) - V_TO_G*(V-128) + 32768) >> 16)
//   B = clamp((Y_GAIN*(Y-16) + U_TO_B*(U-128) + 32768) >> 16)
// with >> the arithmetic shift (int32) and clamp to 0..255.

export const Y_GAIN = 76309;
export const V_TO_R = 104597;
export const U_TO_G = 25675;
export const V_TO_G = 53279;
export const U_TO_B = 132201;
const ROUND = 32768;

/** @param {(level: number) => number} term @param {number} [size] @returns {Int32Array} */
function table(term, size = 256) {
  const values = new Int32Array(size);
  for (let level = 0; level < size; level += 1) values[level] = term(level);
  return values;
}

// Each sample's share of a channel, looked up by its value.
const Y_TERM = table((y) => Y_GAIN * (y - 16) + ROUND);
const R_FROM_V = table((v) => V_TO_R * (v - 128));
const G_FROM_U = table((u) => -U_TO_G * (u - 128));
const G_FROM_V = table((v) => -V_TO_G * (v - 128));
const B_FROM_U = table((u) => U_TO_B * (u - 128));

/**
 * One plane of samples: its bytes, where its first row starts, and its stride (bytes per row).
 * @typedef {{ data: Uint8Array, offset: number, stride: number }} Plane
 */

// The formula's sums shifted by 16 lie within -278..535: CLAMP[sum + CLAMP_OFFSET] limits them to
// 0..255 (a table: cheaper than two comparisons per channel in the loop below).
const CLAMP_OFFSET = 1024;
const CLAMP = table((level) => Math.max(0, Math.min(255, level - CLAMP_OFFSET)), 2 * CLAMP_OFFSET);

/**
 * The width x height RGB pixels (opaque) of the I420 planes y (full size), u and v (halved,
 * rounded up); u and v may be one plane of interleaved samples (NV12: uStep 2, v = u's plane from
 * offset + 1). Samples outside the planes read as 0: the caller checks the picture's size.
 * Writes each pixel as one 32-bit word, R in its low byte: ImageData's RGBA order on a
 * little-endian machine (every browser's). A 1080p picture takes ~25 ms (V8, this machine).
 * @param {Plane} y @param {Plane} u @param {Plane} v
 * @param {number} width @param {number} height @param {number} [uStep] bytes between chroma samples
 * @returns {ImageData} */
export function i420ToImageData(y, u, v, width, height, uStep = 1) {
  const image = new ImageData(width, height);
  const pixels = new Uint32Array(image.data.buffer);
  const yd = y.data;
  const ud = u.data;
  const vd = v.data;
  for (let row = 0; row < height; row += 1) {
    const yRow = y.offset + row * y.stride;
    const uRow = u.offset + (row >> 1) * u.stride;
    const vRow = v.offset + (row >> 1) * v.stride;
    let out = row * width;
    // Two pixels per chroma sample: its three terms are looked up once for both.
    for (let col = 0; col < width; col += 2) {
      const chroma = (col >> 1) * uStep;
      const cu = ud[uRow + chroma];
      const cv = vd[vRow + chroma];
      const red = R_FROM_V[cv];
      const green = G_FROM_U[cu] + G_FROM_V[cv];
      const blue = B_FROM_U[cu];
      let luma = Y_TERM[yd[yRow + col]];
      pixels[out] = (0xff000000 | (CLAMP[((luma + blue) >> 16) + CLAMP_OFFSET] << 16)
        | (CLAMP[((luma + green) >> 16) + CLAMP_OFFSET] << 8) | CLAMP[((luma + red) >> 16) + CLAMP_OFFSET]);
      if (col + 1 < width) {
        luma = Y_TERM[yd[yRow + col + 1]];
        pixels[out + 1] = (0xff000000 | (CLAMP[((luma + blue) >> 16) + CLAMP_OFFSET] << 16)
          | (CLAMP[((luma + green) >> 16) + CLAMP_OFFSET] << 8) | CLAMP[((luma + red) >> 16) + CLAMP_OFFSET]);
      }
      out += 2;
    }
  }
  return image;
}

/**
 * The top-left width x height pixels of a decoded VideoFrame, converted with the formula above.
 * Reads its planes in the frame's own layout (I420 from Chromium's software H.264 decoder; NV12
 * from a hardware one); rejects any other layout rather than let the browser convert it.
 * @param {VideoFrame} video @param {number} width @param {number} height
 * @returns {Promise<ImageData>} */
export async function videoFrameToImageData(video, width, height) {
  const format = video.format;
  if (format !== "I420" && format !== "I420A" && format !== "NV12") {
    throw new Error(`h264 picture in ${format} layout, not I420 or NV12`);
  }
  if (video.visibleRect === null || video.visibleRect.width < width || video.visibleRect.height < height) {
    throw new Error(`h264 picture smaller than its ${width}x${height} rect`);
  }
  const data = new Uint8Array(video.allocationSize());
  const layout = await video.copyTo(data);
  const [y, u, v] = layout;
  if (format === "NV12") {
    return i420ToImageData({ data, ...y }, { data, ...u }, { data, offset: u.offset + 1, stride: u.stride }, width, height, 2);
  }
  return i420ToImageData({ data, ...y }, { data, ...u }, { data, ...v }, width, height);
}
