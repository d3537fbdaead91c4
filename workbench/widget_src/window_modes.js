// @ts-check
// Where the view is shown, beyond its cell: full screen (the browser's Fullscreen API on the
// view itself), and a pop-out into a JupyterLab panel of its own.
//
// An anywidget cannot make a Lumino panel: it gets a model and a DOM element, not JupyterLab's
// application. JupyterLab already has the panel that fits, "Create New View for Cell Output"
// (command notebook:create-output-view, which takes the notebook's path and the cell's index): a
// second view of the same model in a panel split below the notebook, which streams on its own
// connection and follows the cell (re-run, cleared). The view runs that command through the
// application the page exposes (window.jupyterapp: `jupyter lab --LabApp.expose_app_in_browser=True`,
// as the demo starts it); where the page does not expose it, the view says how to do the same by hand.

/** What the pop-out needs of JupyterLab's application (window.jupyterapp).
 * @typedef {object} LabApp
 * @property {{ widgets: (area: string) => Iterable<LabPanel> }} shell
 * @property {{ execute: (id: string, args?: Record<string, unknown>) => Promise<unknown>, hasCommand: (id: string) => boolean }} commands
 */
/** @typedef {{ node: HTMLElement, context?: { path?: string }, content?: { widgets?: readonly { node: HTMLElement }[] } }} LabPanel */
/** @typedef {{ ok: boolean, message: string }} Outcome */

export const OUTPUT_VIEW_COMMAND = "notebook:create-output-view";
export const POP_OUT_BY_HAND =
  "To open this view in its own panel, right-click the cell's output and choose \u201cCreate New View for Cell Output\u201d.";

/** Whether `el` is the page's full-screen element now.
 * @param {Element} el @returns {boolean} */
export function isFullScreen(el) {
  return el.ownerDocument.fullscreenElement === el;
}

/** Whether this page may show an element full screen at all (not in an iframe that forbids it).
 * @param {Element} el @returns {boolean} */
export function canFullScreen(el) {
  return Boolean(el.ownerDocument.fullscreenEnabled && typeof el.requestFullscreen === "function");
}

/** Show `el` full screen, or leave full screen if it is. Resolves with what happened, in words
 * when it failed (the browser refuses without a user's click, or in a frame that forbids it).
 * @param {HTMLElement} el @returns {Promise<Outcome>} */
export async function toggleFullScreen(el) {
  const doc = el.ownerDocument;
  try {
    if (isFullScreen(el)) await doc.exitFullscreen();
    else if (!canFullScreen(el)) return { ok: false, message: "This page cannot show the view full screen." };
    else await el.requestFullscreen({ navigationUI: "hide" });
    return { ok: true, message: "" };
  } catch (err) {
    return { ok: false, message: `Full screen refused by the browser: ${/** @type {Error} */ (err).message ?? err}` };
  }
}

/** The notebook and cell index that hold `el`, found in the application's main area.
 * @param {LabApp} app @param {Element} el @returns {{ path: string, index: number } | null} */
export function cellOf(app, el) {
  for (const panel of app.shell.widgets("main")) {
    const path = panel.context?.path;
    const cells = panel.content?.widgets;
    if (!path || !cells || !panel.node.contains(el)) continue;
    const index = cells.findIndex((cell) => cell.node.contains(el));
    if (index >= 0) return { path, index };
  }
  return null;
}

/** Open the output that holds `el` in a JupyterLab panel of its own (see the top of this file).
 * @param {Element} el @param {LabApp | undefined} app window.jupyterapp, when the page has it
 * @returns {Promise<Outcome>} */
export async function popOut(el, app) {
  if (!app?.commands?.hasCommand?.(OUTPUT_VIEW_COMMAND)) return { ok: false, message: POP_OUT_BY_HAND };
  const where = cellOf(app, el);
  if (!where) {
    return { ok: false, message: "This view is not in a notebook's cell (it may already be popped out)." };
  }
  try {
    await app.commands.execute(OUTPUT_VIEW_COMMAND, where);
    return { ok: true, message: "" };
  } catch (err) {
    return { ok: false, message: `JupyterLab could not open the panel: ${/** @type {Error} */ (err).message ?? err}` };
  }
}
