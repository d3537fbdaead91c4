// @ts-check
// Reconnect delays (pure generator), so that a relay that went away is not hammered.

/** @typedef {{ initial?: number, factor?: number, max?: number, jitter?: number, random?: () => number }} BackoffOptions */

/** Reconnect delays in ms: initial, ×factor each time, capped, with ±jitter so that many
 * viewers dropped together do not come back together.
 * @param {BackoffOptions} [options]
 * @returns {Generator<number, never, unknown>} */
export function* backoffDelays({ initial = 250, factor = 2, max = 10_000, jitter = 0.25, random = Math.random } = {}) {
  let delay = initial;
  for (;;) {
    yield Math.round(delay * (1 - jitter + 2 * jitter * random()));
    delay = Math.min(max, delay * factor);
  }
}
