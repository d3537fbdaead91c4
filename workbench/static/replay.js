// @ts-check
// The replay widget's view (workbench/replay_widget.py): written by hand, one module, no imports.
// The kernel renders each frame (PNG in `frame`, for `frame_time`); this view asks for the time it
// wants (`time`) while playing, one frame at a time, and draws the timeline with its marks.

/** @typedef {{t: number, kind: string, name: string, detail: string}} Mark */

const COLOURS = /** @type {Record<string, string>} */ ({
  call: "#1f77b4", annotation: "#2ca02c", control: "#d62728", screenshot: "#9467bd",
});
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];

/** @param {number} t */
function clock(t) {
  const m = Math.floor(t / 60);
  const s = (t - m * 60).toFixed(1).padStart(4, "0");
  return `${m}:${s}`;
}

/** @param {{model: any, el: HTMLElement}} args */
function render({ model, el }) {
  el.classList.add("wb-replay");
  el.innerHTML = "";
  const title = document.createElement("div");
  title.style.cssText = "font: 600 13px sans-serif; margin: 4px 0";
  const canvas = document.createElement("canvas");
  canvas.className = "wb-replay-canvas";
  canvas.style.cssText = "max-width: 100%; border: 1px solid #888; display: block";
  const bar = document.createElement("div");
  bar.style.cssText = "display: flex; gap: 8px; align-items: center; margin: 4px 0; font: 12px sans-serif";
  const play = document.createElement("button");
  play.className = "wb-replay-play";
  const speed = document.createElement("select");
  speed.className = "wb-replay-speed";
  for (const s of SPEEDS) {
    const option = document.createElement("option");
    option.value = String(s);
    option.textContent = `${s}×`;
    speed.append(option);
  }
  const position = document.createElement("span");
  position.className = "wb-replay-time";
  bar.append(play, speed, position);
  const timeline = document.createElement("div");
  timeline.className = "wb-replay-timeline";
  timeline.style.cssText = "position: relative; height: 22px; background: #eee; cursor: pointer; margin: 2px 0";
  const cursor = document.createElement("div");
  cursor.style.cssText = "position: absolute; top: 0; bottom: 0; width: 2px; background: #000; pointer-events: none";
  timeline.append(cursor);
  const note = document.createElement("div");
  note.className = "wb-replay-note";
  note.style.cssText = "font: 12px sans-serif; color: #a00";
  el.append(title, canvas, bar, timeline, note);

  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  /** @type {number | null} */
  let timer = null;
  let wanted = Number(model.get("time"));
  let waiting = false;
  let waitingSince = 0;
  let last = performance.now();

  const duration = () => Math.max(0.001, Number(model.get("duration")));

  function drawMarks() {
    for (const old of timeline.querySelectorAll(".wb-replay-mark")) old.remove();
    for (const mark of /** @type {Mark[]} */ (model.get("marks"))) {
      const dot = document.createElement("div");
      dot.className = `wb-replay-mark wb-replay-mark-${mark.kind}`;
      dot.title = `${clock(mark.t)} ${mark.name}${mark.detail ? ": " + mark.detail : ""}`;
      dot.dataset.t = String(mark.t);
      dot.style.cssText = `position: absolute; top: 3px; width: 6px; height: 16px; margin-left: -3px; ` +
        `background: ${COLOURS[mark.kind] ?? "#555"}; left: ${(100 * mark.t) / duration()}%`;
      dot.addEventListener("click", (event) => {
        event.stopPropagation();
        seek(mark.t);
      });
      timeline.append(dot);
    }
  }

  /** @param {number} t */
  function seek(t) {
    wanted = Math.max(0, Math.min(duration(), t));
    waiting = true;
    waitingSince = performance.now();
    model.set("time", wanted);
    model.save_changes();
  }

  async function drawFrame() {
    const bytes = model.get("frame");
    const t = Number(model.get("frame_time"));
    if (!bytes || bytes.byteLength === 0) return;
    const buffer = bytes instanceof DataView ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) : bytes;
    const bitmap = await createImageBitmap(new Blob([buffer], { type: "image/png" }));
    if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
    }
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    waiting = false;
    cursor.style.left = `${(100 * t) / duration()}%`;
    position.textContent = `${clock(t)} / ${clock(duration())}`;
    canvas.dataset.time = String(t);
    model.set("shown_time", t);
    model.save_changes();
  }

  function step() {
    const now = performance.now();
    const dt = (now - last) / 1000;
    last = now;
    if (!model.get("playing")) return;
    // One frame at a time: the kernel renders while the clock runs on (an unchanged frame sends nothing).
    if (waiting && now - waitingSince < 1000) return;
    wanted += dt * Number(model.get("speed"));
    if (wanted >= duration()) {
      wanted = duration();
      model.set("playing", false);
    }
    seek(wanted);
  }

  function syncControls() {
    play.textContent = model.get("playing") ? "⏸ Pause" : "▶ Play";
    speed.value = String(model.get("speed"));
    title.textContent = model.get("title");
    note.textContent = model.get("note");
    last = performance.now();
  }

  play.addEventListener("click", () => {
    const playing = !model.get("playing");
    if (playing && wanted >= duration()) wanted = 0;
    model.set("playing", playing);
    model.save_changes();
  });
  speed.addEventListener("change", () => {
    model.set("speed", Number(speed.value));
    model.save_changes();
  });
  timeline.addEventListener("click", (event) => {
    const box = timeline.getBoundingClientRect();
    seek(((event.clientX - box.left) / box.width) * duration());
  });
  model.on("change:frame", () => void drawFrame());
  model.on("change:marks", drawMarks);
  model.on("change:playing", syncControls);
  model.on("change:speed", syncControls);
  model.on("change:note", syncControls);
  model.on("change:time", () => { wanted = Number(model.get("time")); });
  syncControls();
  drawMarks();
  void drawFrame();
  timer = window.setInterval(step, 50);
  return () => { if (timer !== null) window.clearInterval(timer); };
}

export default { render };
