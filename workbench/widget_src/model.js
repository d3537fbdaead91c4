// @ts-check
// The view's side of anywidget's model: the traits (workbench/widget.py) it reads and the ones it
// reports back, sent only when they change.

/**
 * The widget's traits (workbench/widget.py): set by Python, or reported by the view.
 * @typedef {object} Traits
 * @property {string} relay_url
 * @property {string} session_id
 * @property {string} token
 * @property {number | "all"} monitor
 * @property {import("./zoom.js").Zoom} zoom
 * @property {number} max_fps
 * @property {boolean} can_refresh_token
 * @property {boolean} connected
 * @property {string} status
 * @property {number} fps
 * @property {number} kbps
 * @property {number | null} latency_ms
 * @property {string} latency_kind
 * @property {import("./status.js").Monitor[]} monitors
 * @property {boolean} paused
 * @property {number} hidden_count
 */
/**
 * What the view uses of anywidget's model.
 * @typedef {object} WidgetModel
 * @property {<K extends keyof Traits>(name: K) => Traits[K]} get
 * @property {<K extends keyof Traits>(name: K, value: Traits[K]) => void} set
 * @property {() => void} save_changes
 * @property {(event: string, handler: (...args: any[]) => void) => void} on
 * @property {(event: string, handler: (...args: any[]) => void) => void} off
 * @property {(content: Record<string, unknown>) => void} send a custom message to the kernel
 */

/** The stream's figures while it is not live: nothing flows. @type {Readonly<Partial<Traits>>} */
export const IDLE_TRAITS = Object.freeze({ fps: 0, kbps: 0, latency_ms: null, latency_kind: "" });

/** Reports the view's state to the kernel as traits: only changed values, in one message. */
export class TraitPublisher {
  /** @param {Pick<WidgetModel, "set" | "save_changes">} model */
  constructor(model) {
    this.model = model;
    /** @type {Record<string, string>} trait -> the JSON of the value last set */
    this.lastPublished = {};
  }

  /** Set the values that differ from those last published; returns whether any did.
   * @param {Partial<Traits>} values @returns {boolean} */
  publish(values) {
    let changed = false;
    for (const [name, value] of Object.entries(values)) {
      const json = JSON.stringify(value);
      if (this.lastPublished[name] === json) continue;
      this.lastPublished[name] = json;
      this.model.set(/** @type {keyof Traits} */ (name), /** @type {never} */ (value));
      changed = true;
    }
    if (changed) this.model.save_changes();
    return changed;
  }
}
