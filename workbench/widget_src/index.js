// @ts-check
// anywidget's entry point: render({model, el}) mounts a ScreenView and returns its cleanup.
// esbuild bundles this file and what it imports into workbench/static/screen.js (npm run build);
// the named exports are the pieces the tests drive in Node and in the browser.

import { ScreenView } from "./view.js";

export { backoffDelays } from "./backoff.js";
export { controlButton, createControlTool } from "./control.js";
export { isTextKey, keyEvent, modifiersOf, WheelNotches } from "./keys.js";
export { ScreenLink } from "./link.js";
export {
  DEFAULT_WIDTHS, PALETTE, TOOL_KEYS, TOOL_LABELS, desktopPixel, markAt, markDistance, markMessage, markShapes,
  markToUndo, textSize,
} from "./marks.js";
export { PointerRouter } from "./pointer.js";
export { MarkPreviews } from "./previews.js";
export { decodeMessage, encodeBinary, eventMessage, helloMessage } from "./protocol.js";
export { shortcutFor } from "./shortcuts.js";
export { StreamStats } from "./stats.js";
export { decodeRects, ScreenSurface } from "./surface.js";
export { createDrawTool, createEraserTool, createLaserTool, createPanTool, createTextTool } from "./tools.js";
export { ViewTransform } from "./transform.js";

/** @param {{ model: import("./model.js").WidgetModel, el: HTMLElement }} props @returns {() => void} */
function render({ model, el }) {
  const view = new ScreenView(model, el);
  return () => view.dispose();
}

export default { render };
