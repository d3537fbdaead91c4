// @ts-check
// The words the view shows: the status line (link, customer activity, stream stats), the
// notice (paused, hidden areas), the marks line and monitor labels. Pure.

/** @typedef {import("./stats.js").StatsSnapshot} StatsSnapshot */
/** @typedef {{ paused: boolean, hiddenCount: number, reason: string }} StateNotice */
/** @typedef {{ granted: boolean, customerActive: boolean, resumeIn: number | null, graceS: number | null }} ControlState */
/** @typedef {{ index: number, x: number, y: number, width: number, height: number, primary?: boolean }} Monitor */

const CONTROL_GRACE_S = 2; // the agent's default (docs/control-protocol.md), when it gives none

/** @param {number} kbps @returns {string} */
export function formatRate(kbps) {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}

/** @param {Monitor} monitor @returns {string} */
export function monitorLabel(monitor) {
  const primary = monitor.primary ? ", primary" : "";
  return `Monitor ${monitor.index} (${monitor.width}×${monitor.height}${primary})`;
}

/** A time of day in the technician's own zone, to the second ("14:03:12").
 * @param {number} epochMs @returns {string} */
export function clockTime(epochMs) {
  return new Date(epochMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/** The status line: the link's state, whether the customer holds the mouse, and, while live,
 * the stream's rate, latency and bandwidth. The agent sends frames only when the screen
 * changes, so a still screen draws none: that reads as idle since the last change, not as a
 * frozen "0.0 fps".
 * @param {string} linkText
 * @param {ControlState} control
 * @param {boolean} live
 * @param {StatsSnapshot | null} snapshot
 * @returns {string} */
export function statusText(linkText, control, live, snapshot) {
  let text = linkText;
  if (control.customerActive) {
    const grace = control.graceS ?? CONTROL_GRACE_S; // the grace period; resume_in is only the time left
    text = `The customer is using their computer: your input resumes ${grace} s after they stop · ${text}`;
  }
  if (live && snapshot && snapshot.fps === 0) {
    text += snapshot.lastChangeAt ? ` · idle, screen unchanged since ${clockTime(snapshot.lastChangeAt)}`
      : " · waiting for the first picture";
  } else if (live && snapshot) {
    const latency =
      snapshot.latencyMs === null
        ? "latency –"
        : `${snapshot.latencyKind === "rtt" ? "round trip" : "latency"} ${Math.round(snapshot.latencyMs)} ms`;
    text += ` · ${snapshot.fps.toFixed(1)} fps · ${latency} · ${formatRate(snapshot.kbps)}`;
  }
  return text;
}

/** What the customer has paused or hidden, in words; "" when nothing.
 * @param {StateNotice} notice @returns {string} */
export function noticeText({ paused, hiddenCount, reason }) {
  /** @type {string[]} */
  const parts = [];
  if (paused) parts.push("The customer has paused the view: the picture is frozen until they resume.");
  if (hiddenCount > 0) {
    parts.push(
      `The customer has hidden ${hiddenCount === 1 ? "part" : `${hiddenCount} parts`} of their screen;` +
        " those areas are not sent to you.",
    );
  }
  if (parts.length && reason) parts.push(`(${reason})`);
  return parts.join(" ");
}

/** How many marks the customer sees, and whether their screen can show them at all.
 * @param {number} count marks on the customer's screen (lasers not counted)
 * @param {string | null} overlayName the agent's overlay ("none": it cannot draw)
 * @returns {string} */
export function marksInfoText(count, overlayName) {
  let text = count ? `${count} mark${count === 1 ? "" : "s"} on the customer's screen` : "";
  if (overlayName === "none") text += `${text ? " " : ""}(not drawn on their screen: they are told in words)`;
  return text;
}
