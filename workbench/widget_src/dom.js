// @ts-check
// Two small element factories the view, the previews and the layout share.

const SVG_NS = "http://www.w3.org/2000/svg";

/** An HTML element with a class and properties (`textContent`, `title`, `hidden`, `style` as a string…).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} className
 * @param {Record<string, unknown>} [props]
 * @returns {HTMLElementTagNameMap[K]} */
export function element(tag, className, props = {}) {
  return Object.assign(document.createElement(tag), { className, ...props });
}

/** An SVG element with attributes (stringified) and, for <text>, its text.
 * @param {string} tag
 * @param {Record<string, string | number>} [attributes]
 * @param {string | null} [text]
 * @returns {SVGElement} */
export function svgElement(tag, attributes = {}, text = null) {
  const node = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}
