// "A sampler sandbox driven by the exact score" (layouts/_shortcodes/sampler-sandbox.html).
// The reader picks plain Langevin, annealed Langevin, DDPM ancestral or DDIM, the number of
// steps, the step size, the mode weights (equal or the post's 3 : 1 pattern) and a seed, and
// runs it on N particles, each step with the exact score of the ring (DiffusionMaths.run); the
// particles move live over the exact density, and the modes' shares are drawn against the truth.
// The same settings give the same run. Nothing runs by itself; under prefers-reduced-motion a run
// shows only where it ends.
"use strict";

(() => {
  const M = window.DiffusionMaths, F = window.InteractiveFigures;
  const N = 2000; // particles
  const SECONDS = 2.5; // a run is spread over about this many seconds of frames
  const GRID = 96;

  const LABELS = { langevin: "plain Langevin", annealed: "annealed Langevin",
    ddpm: "DDPM ancestral", ddim: "DDIM (η = 0)" };

  /** What each sampler's two knobs mean: [steps, step size]. */
  const KNOBS = {
    langevin: ["steps", "step size α"],
    annealed: ["steps per level M", "step size ε (α_i = ε σ_i² / σ_L²)"],
    ddpm: ["steps T", "step size (set by β_t)"],
    ddim: ["steps S", "step size (set by β_t)"],
  };

  /** The sampler's defaults from the post's config: steps and step size (null: none). */
  function defaults(sampler, data) {
    const sc = data.score, dd = data.ddpm;
    return {
      langevin: { steps: sc.langevin_steps, stepSize: sc.langevin_step },
      annealed: { steps: sc.n_steps_each, stepSize: sc.step_lr },
      ddpm: { steps: dd.T, stepSize: null },
      ddim: { steps: dd.ddim_steps, stepSize: null },
    }[sampler];
  }

  function wilson(k, n, z = 1.959963984540054) {
    const p = k / n, d = 1 + z * z / n, c = (p + z * z / (2 * n)) / d;
    const half = z / d * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n));
    return [Math.max(0, c - half), Math.min(1, c + half)];
  }

  /** The sandbox's canvases and controls, built at once (so the page does not shift when the
   *  data arrives), disabled until it does; the default sampler is annealed Langevin. */
  function layout(figure) {
    const { el } = F;
    const uid = figure.id || "sampler-sandbox";
    const ui = {
      uid,
      plane: el("canvas", { class: "ix-canvas ix-plane", role: "img", "aria-label": "Particles of the sampler" }),
      bars: el("canvas", { class: "ix-bars", role: "img", "aria-label": "Share of the particles nearest each mode" }),
      sampler: el("select", { id: `${uid}-sampler`, disabled: true },
        ...M.SAMPLERS.map((s) => el("option", { value: s, text: LABELS[s], selected: s === "annealed" }))),
      steps: el("input", { type: "number", id: `${uid}-steps`, min: 1, max: 5000, step: 1,
        inputmode: "numeric", disabled: true }),
      size: el("input", { type: "range", id: `${uid}-size`, min: -6, max: -1, step: 0.1, disabled: true }),
      sizeOut: el("output", { for: `${uid}-size` }),
      seed: el("input", { type: "number", id: `${uid}-seed`, min: 0, max: 4294967295, step: 1,
        value: 0, inputmode: "numeric", disabled: true }),
      radios: ["equal", "pattern"].map((value) => el("input", { type: "radio", name: `${uid}-weights`,
        value, checked: value === "pattern", disabled: true })),
      patternText: el("span", { text: " unequal" }),
      run: el("button", { type: "button", class: "ix-button", text: "Run", disabled: true }),
      stepsLabel: el("span", { text: KNOBS.annealed[0] }),
      sizeLabel: el("span", { text: KNOBS.annealed[1] }),
      readout: el("p", { class: "ix-readout", "aria-live": "polite", text: "Loading the sandbox…" }),
    };
    figure.querySelector(".ix-body").append(
      el("div", { class: "ix-sandbox" },
        el("div", { class: "ix-panel" }, ui.plane),
        el("div", { class: "ix-controls ix-stack" },
          el("label", { for: `${uid}-sampler` }, "sampler ", ui.sampler),
          el("label", { for: `${uid}-steps` }, ui.stepsLabel, " ", ui.steps),
          el("label", { for: `${uid}-size` }, ui.sizeLabel, " ", ui.size, " ", ui.sizeOut),
          el("fieldset", {}, el("legend", { text: "mode weights" }),
            el("label", { class: "ix-check" }, ui.radios[0], " equal"),
            el("label", { class: "ix-check" }, ui.radios[1], ui.patternText)),
          el("label", { for: `${uid}-seed` }, "seed ", ui.seed),
          ui.run)),
      el("div", { class: "ix-panel ix-bars-panel" }, ui.bars),
      ui.readout);
    figure.hidden = false;
    return ui;
  }

  function start(figure, ui, data) {
    const colours = F.palette(data.density.colormap);
    const limits = data.limits;
    const { uid, plane, bars, sampler, steps, size, sizeOut, seed, stepsLabel, sizeLabel, readout } = ui;
    const runButton = ui.run;
    ui.patternText.textContent = ` ${data.langevin_weights.join(" : ")}`;
    for (const e of [sampler, steps, size, seed, runButton, ...ui.radios]) e.disabled = false;

    const settings = () => ({
      sampler: sampler.value,
      steps: Math.max(1, Math.min(Number(steps.max), Math.round(Number(steps.value) || 1))),
      stepSize: size.disabled ? null : 10 ** Number(size.value),
      weights: figure.querySelector(`input[name='${uid}-weights']:checked`).value,
      seed: (Number(seed.value) >>> 0),
    });
    const target = (s) => M.fromData(data.mixture, s.weights === "pattern" ? data.langevin_weights : null);

    function showKnobs(reset) {
      const d = defaults(sampler.value, data);
      [stepsLabel.textContent, sizeLabel.textContent] = KNOBS[sampler.value];
      steps.max = sampler.value === "ddim" ? data.ddpm.T : 5000;
      if (reset) {
        steps.value = String(d.steps);
        if (d.stepSize !== null) size.value = String(Math.log10(d.stepSize));
      }
      size.disabled = d.stepSize === null;
      const v = size.disabled ? "—" : (10 ** Number(size.value)).toPrecision(2);
      sizeOut.textContent = v;
      size.setAttribute("aria-valuetext", size.disabled ? "set by the schedule" : v);
    }

    let current = null, mix = null, backdrop = null, raf = 0, paint = null;
    // the scheme's colours, read when a run starts or stops (not per frame: reading styles after
    // the DOM changed would make the browser restyle the whole post)
    const readPaint = () => ({ particle: F.cssVar(figure, "--ix-particle"),
      model: F.cssVar(figure, "--ix-model"), exact: F.cssVar(figure, "--ix-exact") });
    function drawBackdrop(m) {
      const p = M.densityGrid(m, limits, GRID);
      const [c] = F.normalise([p], data.density.gamma);
      backdrop = c;
    }

    function draw() {
      F.heatmap(plane, backdrop, GRID, colours);
      const ctx = plane.getContext("2d");
      const [lo, hi] = limits, px = plane.width / (hi - lo);
      const r = Math.max(1, plane.width / 260);
      ctx.fillStyle = paint.particle;
      if (current) {
        const x = current.x;
        for (let i = 0; i < x.length; i += 2) ctx.fillRect((x[i] - lo) * px - r / 2, (hi - x[i + 1]) * px - r / 2, r, r);
      }
      drawShares();
    }

    function drawShares() {
      const ctx = bars.getContext("2d");
      const W = bars.width, H = bars.height, K = mix.K;
      ctx.clearRect(0, 0, W, H);
      const shares = current ? M.modeShares(mix, current.x) : new Array(K).fill(0);
      const top = Math.max(...mix.weights, ...shares) * 1.15;
      const bw = W / K;
      ctx.fillStyle = paint.model;
      shares.forEach((s, k) => ctx.fillRect(k * bw + bw * 0.2, H * (1 - s / top), bw * 0.6, H * s / top));
      ctx.strokeStyle = paint.exact;
      ctx.lineWidth = Math.max(2, H / 40);
      mix.weights.forEach((w, k) => {
        ctx.beginPath();
        ctx.moveTo(k * bw + bw * 0.08, H * (1 - w / top));
        ctx.lineTo(k * bw + bw * 0.92, H * (1 - w / top));
        ctx.stroke();
      });
      return shares;
    }

    function describeShares() {
      const shares = current ? M.modeShares(mix, current.x) : new Array(mix.K).fill(0);
      bars.setAttribute("aria-label", "Share of the particles nearest each mode (bars) against " +
        "the true weights (lines): " + shares.map((s, k) => `mode ${k + 1} ${F.percent(s, 2)} of ${F.percent(mix.weights[k], 2)}`).join(", "));
    }

    function report() {
      const shares = M.modeShares(mix, current.x);
      const { got, truth } = M.heavyShare(mix, shares);
      const s = settings();
      const [lo, hi] = wilson(Math.round(got * N), N);
      const what = truth < 1 - 1e-12 ? `the heavy modes hold ${F.percent(got, 3)} [${F.percent(lo, 3)}, ` +
        `${F.percent(hi, 3)}] of the particles (truth ${F.percent(truth, 3)})` :
        `the largest mode share is ${F.percent(Math.max(...shares), 3)} (truth ${F.percent(mix.weights[0], 3)} each)`;
      const lost = Math.round(N * (1 - shares.reduce((a, b) => a + b, 0)));
      readout.textContent = `${LABELS[s.sampler]}, ${current.total} steps, ${N.toLocaleString("en")} ` +
        `particles: ${what}.` + (lost ? ` ${lost.toLocaleString("en")} particles diverged (step too large).` : "");
      figure.dataset.heavyShare = String(got);
      figure.dataset.heavyTruth = String(truth);
      describeShares();
      plane.setAttribute("aria-label", `${N} particles after ${LABELS[s.sampler]}: ${what}`);
    }

    function begin() {
      paint = readPaint();
      const s = settings();
      mix = target(s);
      drawBackdrop(mix);
      current = M.run(mix, s, data, N, s.seed);
      figure.dataset.state = "running";
      runButton.textContent = "Stop";
      readout.setAttribute("aria-live", "off");
      // under prefers-reduced-motion the particles are drawn only where the run ends
      const still = F.reduceMotion();
      const perFrame = Math.max(1, Math.ceil(current.total / (still ? 20 : SECONDS * 60)));
      if (still) draw();
      const tick = () => {
        const began = performance.now();
        current.advance(perFrame);
        if (!still) draw();
        F.timed(figure, began);
        if (current.done < current.total) raf = requestAnimationFrame(tick);
        else finish();
      };
      raf = requestAnimationFrame(tick);
    }

    function finish() {
      cancelAnimationFrame(raf);
      raf = 0;
      runButton.textContent = "Run";
      readout.setAttribute("aria-live", "polite");
      report();
      if (current.done < current.total) readout.textContent = `Stopped after ${current.done} of ${current.total} steps. ` + readout.textContent;
      figure.dataset.state = current.done < current.total ? "stopped" : "done";
      draw();
    }

    function idle() { // the settings changed: show the target, no particles
      paint = readPaint();
      cancelAnimationFrame(raf);
      raf = 0;
      runButton.textContent = "Run";
      current = null;
      mix = target(settings());
      drawBackdrop(mix);
      figure.dataset.state = "idle";
      readout.textContent = `Ready: ${LABELS[sampler.value]} on ${N.toLocaleString("en")} particles. Press Run.`;
      draw();
      describeShares();
    }

    sampler.addEventListener("change", () => { showKnobs(true); idle(); });
    size.addEventListener("input", () => showKnobs(false));
    for (const e of [steps, size, seed, ...figure.querySelectorAll(`input[name='${uid}-weights']`)])
      e.addEventListener("change", idle);
    runButton.addEventListener("click", () => (raf ? finish() : begin()));
    // canvases are sized when their box changes, not per frame (see reverse-process.js)
    const resize = () => { F.fit(plane); F.fit(bars); if (backdrop) draw(); };
    new ResizeObserver(resize).observe(plane);
    F.fit(plane);
    F.fit(bars);
    showKnobs(true);
    idle();
  }

  document.querySelectorAll("figure.interactive[data-figure='sampler-sandbox']").forEach((figure) => {
    const ui = layout(figure);
    F.whenNear(figure, () => F.loadData(figure.dataset.src).then((d) => start(figure, ui, d))
      .catch((e) => { ui.readout.textContent = `The data could not be loaded (${e.message}).`; }));
  });
})();
