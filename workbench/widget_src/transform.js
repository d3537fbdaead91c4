// @ts-check
// Coordinates: client (CSS) px ⇄ stream px (the canvas backing store) ⇄ desktop px (the
// customer's virtual screen), whatever the zoom, the scroll or the cell's width.

/** @typedef {{ x: number, y: number }} Point */

/** Maps between client (CSS) px, stream px (the canvas backing store) and desktop px (the
 * customer's virtual screen). Reads the canvas box on each call, so it is right whatever the
 * zoom, the scroll, or the cell's width. Marks and pointer events use it both ways. */
export class ViewTransform {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {() => Point} [streamOrigin] the stream's top left corner in desktop px
   */
  constructor(canvas, streamOrigin = () => ({ x: 0, y: 0 })) {
    this.canvas = canvas;
    this.streamOrigin = streamOrigin;
  }

  /** CSS px per stream px (1 in 1:1 on a 1× display; < 1 when fitted to a narrow cell). */
  get scale() {
    const box = this.canvas.getBoundingClientRect();
    return this.canvas.width ? box.width / this.canvas.width : 1;
  }

  /** @param {number} clientX @param {number} clientY @returns {Point} */
  clientToStream(clientX, clientY) {
    const box = this.canvas.getBoundingClientRect();
    const sx = box.width ? this.canvas.width / box.width : 1;
    const sy = box.height ? this.canvas.height / box.height : 1;
    return { x: (clientX - box.left) * sx, y: (clientY - box.top) * sy };
  }

  /** @param {number} x @param {number} y @returns {Point} */
  streamToClient(x, y) {
    const box = this.canvas.getBoundingClientRect();
    const sx = this.canvas.width ? box.width / this.canvas.width : 1;
    const sy = this.canvas.height ? box.height / this.canvas.height : 1;
    return { x: box.left + x * sx, y: box.top + y * sy };
  }

  /** Stream px → desktop px: the stream's origin is the shown monitor's corner (or the virtual
   * screen's for "all"). Control events are sent in desktop px.
   * @param {number} x @param {number} y @returns {Point} */
  streamToDesktop(x, y) {
    const origin = this.streamOrigin();
    return { x: x + origin.x, y: y + origin.y };
  }

  /** @param {number} x @param {number} y @returns {Point} */
  desktopToStream(x, y) {
    const origin = this.streamOrigin();
    return { x: x - origin.x, y: y - origin.y };
  }

  /** @param {Point} point @returns {boolean} */
  containsStream(point) {
    return point.x >= 0 && point.y >= 0 && point.x < this.canvas.width && point.y < this.canvas.height;
  }
}
