// @ts-check
// The toolbar's state on screen: which tool and colour are pressed, and the control button's
// words and whether it can be used; once the session has ended, nothing that marks or controls
// the customer's screen can be pressed. The view decides the state; this only shows it.

/** @typedef {import("./marks.js").ToolName} ToolName */
/** @typedef {Pick<import("./layout.js").Layout, "root" | "toolButtons" | "colourButtons" | "controlButton" | "undoButton" | "clearButton">} ToolbarParts */
/**
 * @typedef {object} ToolbarState
 * @property {ToolName | "control"} tool the active tool ("control" while control mode is on)
 * @property {string} colour the colour chosen for marks
 * @property {boolean} granted the customer grants control
 * @property {boolean} live the link is live
 * @property {boolean} controlOn control mode is on
 * @property {boolean} [ended] the session has ended: marks and control are over
 */

/** The control button's text and tooltip.
 * @param {Pick<ToolbarState, "granted" | "controlOn" | "ended">} state @returns {{ text: string, title: string }} */
export function controlButtonText({ granted, controlOn, ended = false }) {
  if (ended) return { text: "Control", title: "The session has ended" };
  if (controlOn) return { text: "Control: on", title: "Your mouse and keys go to the customer's computer; click to stop" };
  return {
    text: "Control",
    title: granted ? "Use the customer's mouse and keyboard (they can take it back at any time)"
      : "The customer has not allowed control",
  };
}

/** Show `state` on the toolbar's buttons (and the root's data-tool, which the CSS reads).
 * @param {ToolbarParts} parts @param {ToolbarState} state */
export function renderToolbar({ root, toolButtons, colourButtons, controlButton, undoButton, clearButton }, state) {
  const ended = state.ended ?? false;
  root.dataset.tool = state.tool;
  root.classList?.toggle("wb-screen--ended", ended);
  for (const [name, button] of Object.entries(toolButtons)) {
    button.setAttribute("aria-pressed", String(name === state.tool));
    button.disabled = ended && name !== "view"; // looking (and panning) stays possible
  }
  for (const button of colourButtons) {
    button.setAttribute("aria-pressed", String(button.dataset.colour === state.colour));
    button.disabled = ended;
  }
  for (const button of [undoButton, clearButton]) {
    if (button) button.disabled = ended;
  }
  controlButton.disabled = ended || !state.granted || !state.live;
  controlButton.setAttribute("aria-pressed", String(state.controlOn));
  const { text, title } = controlButtonText(state);
  controlButton.textContent = text;
  controlButton.title = title;
}
