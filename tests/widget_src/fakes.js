// Small stand-ins for the browser objects the widget's modules touch, for tests under Node.

/** An element that records its attributes, children and removal. */
export class FakeNode {
  constructor(tag) {
    this.tag = tag;
    this.attributes = {};
    this.children = [];
    this.parent = null;
    this.textContent = "";
  }
  setAttribute(name, value) { this.attributes[name] = value; }
  append(...nodes) {
    for (const node of nodes) {
      node.parent = this;
      this.children.push(node);
    }
  }
  remove() {
    if (this.parent) this.parent.children = this.parent.children.filter((child) => child !== this);
    this.parent = null;
  }
  replaceWith(node) {
    const siblings = this.parent.children;
    siblings[siblings.indexOf(this)] = node;
    node.parent = this.parent;
    this.parent = null;
  }
  replaceChildren() {
    for (const child of this.children) child.parent = null;
    this.children = [];
  }
}

/** `document` with just createElementNS (SVG previews). */
export function installDocument() {
  globalThis.document = /** @type {any} */ ({ createElementNS: (_ns, tag) => new FakeNode(tag) });
}

/** ImageData as the browser has it (Node has none). */
export function installImageData() {
  globalThis.ImageData ??= /** @type {any} */ (class ImageData {
    constructor(data, width, height) {
      Object.assign(this, { data, width, height });
    }
  });
}

/** A canvas whose 2D context logs what is drawn; its box on the page is `box`. */
export function fakeCanvas(width = 0, height = 0, box = { left: 0, top: 0, width, height }) {
  const log = [];
  const ctx = {
    fillStyle: "",
    putImageData: (image, x, y) => log.push(["put", x, y, [...image.data]]),
    drawImage: (...args) => log.push(["draw", ...args.slice(1)]),
    fillRect: (...args) => log.push(["fill", ctx.fillStyle, ...args]),
  };
  const canvas = {
    width, height, log,
    getContext: () => ctx,
    getBoundingClientRect: () => ({ ...box, right: box.left + box.width, bottom: box.top + box.height }),
  };
  return canvas;
}
