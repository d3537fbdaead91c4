// @ts-check
// The toolbar's state on screen: which tool and colour are pressed, and the control button's
// words and whether it can be used. The view decides the state; this only shows it.

/** @typedef {import("./marks.js").ToolName} ToolName */
/** @typedef {Pick<import("./layout.js").Layout, "root" | "toolButtons" | "colourButtons" | "controlButton">} ToolbarParts */
/**
 * @typedef {object} ToolbarState
 * @property {ToolName | "control"} tool the active tool ("control" while control mode is on)
 * @property {string} colour the colour chosen for marks
 * @property {boolean} granted the customer grants control
 * @property {boolean} live the link is live
 * @property {boolean} controlOn control mode is on
 */

/** The control button's text and tooltip.
 * @param {Pick<ToolbarState, "granted" | "controlOn">} state @returns {{ text: string, title: string }} */
export function controlButtonText({ granted, controlOn }) {
  if (controlOn) return { text: "Control: on", title: "Your mouse and keys go to the customer's computer; click to stop" };
  return {
    text: "Control",
    title: granted ? "Use the customer's mouse and keyboard (they can take it back at any time)"
      : "The customer has not allowed control",
  };
}

/** Show `state` on the toolbar's buttons (and the root's data-tool, which the CSS reads).
 * @param {ToolbarParts} parts @param {ToolbarState} state */
export function renderToolbar({ root, toolButtons, colourButtons, controlButton }, state) {
  root.dataset.tool = state.tool;
  for (const [name, button] of Object.entries(toolButtons)) {
    button.setAttribute("aria-pressed", String(name === state.tool));
  }
  for (const button of colourButtons) button.setAttribute("aria-pressed", String(button.dataset.colour === state.colour));
  controlButton.disabled = !state.granted || !state.live;
  controlButton.setAttribute("aria-pressed", String(state.controlOn));
  const { text, title } = controlButtonText(state);
  controlButton.textContent = text;
  controlButton.title = title;
}
