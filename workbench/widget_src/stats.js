// @ts-check
// How the stream goes: frames/s, bandwidth and latency over a sliding window (pure but for the
// clock, which the caller may replace).

const STATS_WINDOW_MS = 2_000;
// Above this, capture→draw "latency" is clock skew, not delay (clocks are not comparable).
const PLAUSIBLE_LATENCY_MS = 5_000;

/** @typedef {"capture" | "rtt" | ""} LatencyKind */
/**
 * @typedef {object} StatsSnapshot
 * @property {number} fps frames drawn per second over the window
 * @property {number} kbps
 * @property {number | null} latencyMs
 * @property {LatencyKind} latencyKind
 * @property {number | null} [lastChangeAt] when the last frame was drawn (epoch ms; the agent sends
 *   frames only when the screen changes), null before the first
 */

/** Frames/s and kbit/s over a sliding window; latency as capture→draw when the agent's clock is
 * comparable to ours (one machine, or synchronised), else as ack→next-frame round trip. */
export class StreamStats {
  /** @param {() => number} [now] a monotonic clock in ms @param {() => number} [wallClock] epoch ms */
  constructor(now = () => performance.now(), wallClock = () => Date.now()) {
    this.now = now;
    this.wallClock = wallClock;
    /** @type {number | null} epoch ms of the last frame drawn */
    this.lastChangeAt = null;
    this.since = 0;
    /** @type {[t: number, bytes: number][]} */
    this.received = [];
    /** @type {[t: number, captureLatency: number | null][]} */
    this.drawn = [];
    /** @type {[t: number, ms: number][]} */
    this.roundTrips = [];
    /** @type {number | null} */
    this.lastAckAt = null;
    this.reset();
  }

  reset() {
    this.since = this.now();
    this.received = [];
    this.drawn = [];
    this.roundTrips = [];
    this.lastAckAt = null;
    this.lastChangeAt = null;
  }

  /** @param {number} bytes */
  frameReceived(bytes) {
    const t = this.now();
    this.received.push([t, bytes]);
    if (this.lastAckAt !== null) {
      this.roundTrips.push([t, t - this.lastAckAt]);
      this.lastAckAt = null;
    }
  }

  /** @param {number | undefined} capturedAtEpochMs the agent's capture time, if it said */
  frameDrawn(capturedAtEpochMs) {
    const latency = Number.isFinite(capturedAtEpochMs)
      ? performance.timeOrigin + performance.now() - /** @type {number} */ (capturedAtEpochMs)
      : null;
    this.drawn.push([this.now(), latency]);
    this.lastChangeAt = this.wallClock();
  }

  ackSent() {
    this.lastAckAt = this.now();
  }

  /** @returns {StatsSnapshot} */
  snapshot() {
    const t = this.now();
    const cutoff = t - STATS_WINDOW_MS;
    for (const list of [this.received, this.drawn, this.roundTrips]) {
      while (list.length && list[0][0] <= cutoff) list.shift();
    }
    const span = Math.max(1, Math.min(STATS_WINDOW_MS, t - this.since));
    const fps = (this.drawn.length * 1000) / span;
    const kbps = (this.received.reduce((sum, [, bytes]) => sum + bytes, 0) * 8) / span;
    const latencies = this.drawn.map(([, latency]) => latency);
    /** @type {number | null} */
    let latencyMs = null;
    /** @type {LatencyKind} */
    let latencyKind = "";
    if (latencies.length && latencies.every((l) => l !== null && l >= -1 && l < PLAUSIBLE_LATENCY_MS)) {
      latencyMs = Math.max(0, median(/** @type {number[]} */ (latencies)));
      latencyKind = "capture";
    } else if (this.roundTrips.length) {
      latencyMs = Math.min(...this.roundTrips.map(([, ms]) => ms));
      latencyKind = "rtt";
    }
    return { fps, kbps, latencyMs, latencyKind, lastChangeAt: this.lastChangeAt };
  }
}

/** @param {number[]} values @returns {number} */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
