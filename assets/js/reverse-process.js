// "The reverse process, scrubbable" (layouts/_shortcodes/reverse-process.html). A slider over
// t from T to 0 at the animation's times: on the left the density of the trained DDPM's
// particles x_t (shipped by blog/stages/interactive.py), on the right the exact q(x_t), computed
// here from the closed form; both smoothed by the same kernel N(0, h_t^2 I) as density_evo.gif,
// so the exact panel is q(x_t) * N(0, h_t^2 I) = mixture.vp(abar_t).ve(h_t). A toggle draws the
// learned eps_theta(x_t, t) (left) beside the exact eps*(x_t, t) (right). Nothing plays by itself.
"use strict";

(() => {
  const M = window.DiffusionMaths, F = window.InteractiveFigures;
  const GRID = 96; // heat-map pixels per side
  const FPS = 8; // frames per second of Play

  /** The figure's canvases and controls, built at once (so the page does not shift when the
   *  data arrives), disabled until it does. */
  function layout(figure) {
    const { el } = F;
    const uid = figure.id || "reverse-process";
    const ui = {
      left: el("canvas", { class: "ix-canvas", role: "img", "aria-label": "Density of the trained DDPM's particles" }),
      right: el("canvas", { class: "ix-canvas", role: "img", "aria-label": "Exact density q(x_t)" }),
      slider: el("input", { type: "range", id: `${uid}-t`, min: 0, max: 1, step: 1, value: 0, disabled: true }),
      play: el("button", { type: "button", class: "ix-button", "aria-pressed": "false",
        "aria-controls": `${uid}-t`, text: "Play", disabled: true }),
      toggle: el("input", { type: "checkbox", id: `${uid}-eps`, disabled: true }),
      readout: el("p", { class: "ix-readout", "aria-live": "polite", text: "Loading the trained model's reverse process…" }),
    };
    figure.querySelector(".ix-body").append(
      el("div", { class: "ix-panels" },
        el("div", { class: "ix-panel" }, ui.left, el("span", { class: "ix-label", text: "trained DDPM, xₜ" })),
        el("div", { class: "ix-panel" }, ui.right, el("span", { class: "ix-label", text: "exact q(xₜ)" }))),
      el("div", { class: "ix-controls" },
        ui.play,
        el("label", { for: `${uid}-t`, class: "ix-slider" }, "t from T to 0 ", ui.slider),
        el("label", { for: `${uid}-eps`, class: "ix-check" }, ui.toggle, " show the ε field (learned left, exact right)")),
      ui.readout);
    figure.hidden = false;
    return ui;
  }

  function start(figure, ui, data) {
    const rev = data.reverse, dd = data.ddpm;
    const schedule = M.makeSchedule(dd.T, dd.schedule, dd.beta_start, dd.beta_end);
    const mix = M.fromData(data.mixture);
    const times = rev.t, frames = times.length;
    const particles = M.decodeArray(rev.particles); // (frames, N, 2) flattened
    const perFrame = particles.length / frames;
    const eps = M.decodeArray(rev.eps); // (frames, G, G, 2)
    const G = rev.field_grid, limits = data.limits;
    const colours = F.palette(data.density.colormap);
    const gridAxis = M.linspace(limits[0], limits[1], G); // blog.plots.density.grid
    const { left, right, slider, play, toggle, readout } = ui;
    slider.max = String(frames - 1);
    for (const e of [slider, play, toggle]) e.disabled = false;

    const exactCache = new Map();
    function exactAt(i, h) {
      if (!exactCache.has(i)) {
        const q = M.ve(M.vp(mix, M.abarAt(schedule, times[i])), h);
        exactCache.set(i, M.densityGrid(q, limits, GRID));
      }
      return exactCache.get(i);
    }

    function fieldAt(i) { // [x, y, u, v] of the learned and exact eps on the grid at field_t[i]
      const s = rev.field_t[i], abar = M.abarAt(schedule, s);
      const q = M.vp(mix, abar), c = -Math.sqrt(1 - abar), g = new Float64Array(2);
      const learned = [], exact = [];
      for (let r = 0; r < G; r++) for (let j = 0; j < G; j++) {
        const x = gridAxis[j], y = gridAxis[r], k = ((i * G + r) * G + j) * 2;
        learned.push([x, y, eps[k], eps[k + 1]]);
        M.score(q, x, y, g);
        exact.push([x, y, c * g[0], c * g[1]]);
      }
      return { learned, exact, s };
    }

    // the arrows' colours, read when the toggle changes (not per frame: reading styles after the
    // readout changed would make the browser restyle the whole post)
    let paint = null;
    const readPaint = () => { paint = { model: F.cssVar(figure, "--ix-model"), exact: F.cssVar(figure, "--ix-exact") }; };
    readPaint();

    let frame = 0;
    function render() {
      const began = performance.now();
      const s = times[frame], abar = M.abarAt(schedule, s);
      const h = Math.max(data.density.kde_min, data.density.kde_scale * Math.sqrt(1 - abar));
      const model = M.kdeGrid(particles.subarray(frame * perFrame, (frame + 1) * perFrame), limits, GRID, h);
      const [cm, ce] = F.normalise([model, exactAt(frame, h)], data.density.gamma);
      F.heatmap(left, cm, GRID, colours);
      F.heatmap(right, ce, GRID, colours);
      let at = "";
      if (toggle.checked) {
        const f = fieldAt(frame);
        let top = 1e-12;
        for (const a of [...f.learned, ...f.exact]) top = Math.max(top, Math.hypot(a[2], a[3]));
        const scale = 0.9 * (limits[1] - limits[0]) / (G - 1) / top; // longest arrow: 0.9 cell
        F.arrows(left, limits, f.learned, scale, paint.model);
        F.arrows(right, limits, f.exact, scale, paint.exact);
      }
      if (rev.field_t[frame] !== s) at = ` (at t = ${rev.field_t[frame]}, the last step)`;
      const d = rev.discrepancy[frame];
      const text = `t = ${s} of ${dd.T}`;
      slider.setAttribute("aria-valuetext", `${text}, ᾱ_t = ${abar.toFixed(3)}`);
      left.setAttribute("aria-label", `Density of the trained DDPM's particles at ${text}`);
      right.setAttribute("aria-label", `Exact density q(x_t) at ${text}`);
      readout.textContent = `${text} · ᾱ_t = ${abar.toFixed(3)} · ε error${at} ` +
        `${F.percent(d.value)} [${F.percent(d.lo)}, ${F.percent(d.hi)}]`;
      figure.dataset.t = String(s);
      F.timed(figure, began);
    }

    let timer = null;
    function setPlaying(on) {
      if (on && frame === frames - 1) { frame = 0; slider.value = "0"; }
      play.textContent = on ? "Pause" : "Play";
      play.setAttribute("aria-pressed", String(on));
      readout.setAttribute("aria-live", on ? "off" : "polite"); // announce where it stopped
      clearInterval(timer);
      timer = null;
      if (!on) { render(); return; }
      timer = setInterval(() => {
        frame += 1;
        slider.value = String(frame);
        render();
        if (frame >= frames - 1) setPlaying(false);
      }, 1000 / FPS);
    }
    slider.addEventListener("input", () => { frame = Number(slider.value); render(); });
    toggle.addEventListener("change", () => { readPaint(); render(); });
    play.addEventListener("click", () => setPlaying(timer === null));
    // canvases are sized when their box changes, not per frame (reading the layout after the
    // readout changed would make the browser lay the post out again)
    const resize = () => { F.fit(left); F.fit(right); render(); };
    new ResizeObserver(resize).observe(left);
    resize();
  }

  document.querySelectorAll("figure.interactive[data-figure='reverse-process']").forEach((figure) => {
    const ui = layout(figure);
    F.whenNear(figure, () => F.loadData(figure.dataset.src).then((d) => start(figure, ui, d))
      .catch((e) => { ui.readout.textContent = `The data could not be loaded (${e.message}).`; }));
  });
})();
