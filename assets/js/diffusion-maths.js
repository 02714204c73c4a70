// The maths of the post's interactive figures, as pure functions: no DOM, no drawing. It mirrors
// blog/mixture.py (the mixture and its two noised forms), blog/ddpm.py (the beta_t schedule, the
// DDIM timesteps, the ancestral and DDIM steps) and blog/score.py (the sigma ladder, Langevin);
// tests/test_interactive.py evaluates these functions in Chromium and holds them to the Python
// to 1e-9. Every parameter comes from the build (interactive.json), never from this file.
//
//   p(x) = sum_k pi_k N(x; mu_k, s_k^2 I)
//   VP:  q(x_t)     = sum_k pi_k N(x_t; sqrt(abar_t) mu_k, (abar_t s_k^2 + 1 - abar_t) I)
//   VE:  q_sigma(x) = sum_k pi_k N(x; mu_k, (s_k^2 + sigma^2) I)
//   eps*(x_t, t) = -sqrt(1 - abar_t) grad log q(x_t)
"use strict";

window.DiffusionMaths = (() => {
  const LOG_2PI = Math.log(2 * Math.PI);

  // --- a seeded random generator: the same seed gives the same run ------------------------------
  /** mulberry32: uniform floats in [0, 1) from a 32-bit seed, and N(0, 1) draws (Box-Muller). */
  function rng(seed) {
    let a = seed >>> 0;
    let spare = null;
    const uniform = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const normal = () => {
      if (spare !== null) { const z = spare; spare = null; return z; }
      const u = 1 - uniform(); // (0, 1]: log(u) is finite
      const r = Math.sqrt(-2 * Math.log(u));
      const th = 2 * Math.PI * uniform();
      spare = r * Math.sin(th);
      return r * Math.cos(th);
    };
    return { uniform, normal };
  }

  // --- the mixture -------------------------------------------------------------------------------
  /** sum_k weights[k] N(means[k], stds[k]^2 I) in 2-D; stds a number or one per component. */
  function mixture(means, stds, weights) {
    const K = means.length;
    const s = typeof stds === "number" ? new Array(K).fill(stds) : stds.slice();
    const total = weights.reduce((u, v) => u + v, 0);
    const w = weights.map((v) => v / total);
    const mx = new Float64Array(K), my = new Float64Array(K), variance = new Float64Array(K);
    const logNorm = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      mx[k] = means[k][0];
      my[k] = means[k][1];
      variance[k] = s[k] * s[k];
      // log pi_k - (d / 2) log(2 pi s_k^2), d = 2
      logNorm[k] = Math.log(w[k]) - 0.5 * 2 * (LOG_2PI + Math.log(variance[k]));
    }
    return { K, means: means.map((m) => m.slice()), stds: s, weights: w, mx, my, variance, logNorm };
  }

  /** log pi_k + log N(x; mu_k, s_k^2 I) into out (K,). */
  function logComponents(m, x, y, out) {
    for (let k = 0; k < m.K; k++) {
      const dx = x - m.mx[k], dy = y - m.my[k];
      out[k] = m.logNorm[k] - 0.5 * (dx * dx + dy * dy) / m.variance[k];
    }
    return out;
  }

  function logSumExp(a, n) {
    let top = -Infinity;
    for (let k = 0; k < n; k++) if (a[k] > top) top = a[k];
    let sum = 0;
    for (let k = 0; k < n; k++) sum += Math.exp(a[k] - top);
    return top + Math.log(sum);
  }

  const scratch = new Float64Array(64);

  /** log p(x, y). */
  function logProb(m, x, y) {
    return logSumExp(logComponents(m, x, y, scratch), m.K);
  }

  function prob(m, x, y) {
    return Math.exp(logProb(m, x, y));
  }

  /** grad log p(x) = sum_k r_k(x) (mu_k - x) / s_k^2, into out[0..1] (returned). */
  function score(m, x, y, out = new Float64Array(2)) {
    const lc = logComponents(m, x, y, scratch);
    const lse = logSumExp(lc, m.K);
    let gx = 0, gy = 0, rs = 0;
    for (let k = 0; k < m.K; k++) {
      const r = Math.exp(lc[k] - lse) / m.variance[k];
      gx += r * m.mx[k];
      gy += r * m.my[k];
      rs += r;
    }
    out[0] = gx - rs * x;
    out[1] = gy - rs * y;
    return out;
  }

  /** q(x_t) for x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps (variance preserving). */
  function vp(m, abar) {
    if (!(abar > 0 && abar <= 1)) throw new RangeError(`abar must be in (0, 1], got ${abar}`);
    const c = Math.sqrt(abar);
    return mixture(m.means.map(([a, b]) => [c * a, c * b]),
      m.stds.map((s) => Math.sqrt(abar * s * s + (1 - abar))), m.weights);
  }

  /** q_sigma(x~) for x~ = x + sigma eps (variance exploding). */
  function ve(m, sigma) {
    if (!(sigma >= 0)) throw new RangeError(`sigma must be >= 0, got ${sigma}`);
    return mixture(m.means, m.stds.map((s) => Math.sqrt(s * s + sigma * sigma)), m.weights);
  }

  /** The post's ring from interactive.json's "mixture", with weights `pattern` repeated around
   *  the ring (null: the exported weights pi_k). */
  function fromData(d, pattern = null) {
    const K = d.means.length;
    const w = pattern ? Array.from({ length: K }, (_, k) => pattern[k % pattern.length]) : d.weights;
    return mixture(d.means, d.w, w);
  }

  // --- schedules ---------------------------------------------------------------------------------
  function linspace(a, b, n) {
    const out = new Float64Array(n);
    if (n === 1) { out[0] = a; return out; }
    const step = (b - a) / (n - 1);
    for (let i = 0; i < n; i++) out[i] = i * step + a;
    out[n - 1] = b;
    return out;
  }

  /** blog.ddpm.make_schedule: beta_t linear (scaled by 1000 / T) or cosine, and what derives
   *  from it; arrays of length T, 0-based (index t is the paper's t + 1). */
  function makeSchedule(T, kind = "linear", betaStart = 1e-4, betaEnd = 0.02) {
    let betas;
    if (kind === "linear") {
      const scale = 1000 / T;
      betas = linspace(betaStart * scale, Math.min(betaEnd * scale, 0.999), T);
    } else if (kind === "cosine") {
      const f = new Float64Array(T + 1);
      for (let i = 0; i <= T; i++) f[i] = Math.cos((i / T + 0.008) / 1.008 * Math.PI / 2) ** 2;
      betas = new Float64Array(T);
      for (let i = 0; i < T; i++) betas[i] = Math.min(Math.max(1 - f[i + 1] / f[i], 0), 0.999);
    } else {
      throw new RangeError(`unknown schedule ${kind}`);
    }
    const n = T, arr = () => new Float64Array(n);
    const s = { T, betas, alphas_cumprod: arr(), alphas_cumprod_prev: arr(), sqrt_alphas_cumprod: arr(),
      sqrt_one_minus_alphas_cumprod: arr(), sqrt_recip_alphas_cumprod: arr(),
      sqrt_recipm1_alphas_cumprod: arr(), posterior_variance: arr(), posterior_mean_coef1: arr(),
      posterior_mean_coef2: arr(), sigmas: arr(), log_sigmas: arr() };
    let abar = 1;
    for (let t = 0; t < n; t++) {
      const b = betas[t], prev = abar;
      abar *= 1 - b;
      s.alphas_cumprod[t] = abar;
      s.alphas_cumprod_prev[t] = prev;
      s.sqrt_alphas_cumprod[t] = Math.sqrt(abar);
      s.sqrt_one_minus_alphas_cumprod[t] = Math.sqrt(1 - abar);
      s.sqrt_recip_alphas_cumprod[t] = Math.sqrt(1 / abar);
      s.sqrt_recipm1_alphas_cumprod[t] = Math.sqrt(1 / abar - 1);
      s.posterior_variance[t] = b * (1 - prev) / (1 - abar);
      s.posterior_mean_coef1[t] = b * Math.sqrt(prev) / (1 - abar);
      s.posterior_mean_coef2[t] = (1 - prev) * Math.sqrt(1 - b) / (1 - abar);
      s.sigmas[t] = Math.sqrt((1 - abar) / abar);
      s.log_sigmas[t] = Math.log(s.sigmas[t]);
    }
    return s;
  }

  /** abar_s at paper time s = 0..T (abar_0 = 1). */
  function abarAt(schedule, s) {
    return s === 0 ? 1 : schedule.alphas_cumprod[s - 1];
  }

  function roundHalfEven(v) {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  /** blog.ddpm.ddim_timesteps: S indices from T - 1 down to 0, quadratic or uniform. */
  function ddimTimesteps(T, S, spacing = "quadratic") {
    if (S > T) throw new RangeError(`DDIM needs S <= T, got ${S} > ${T}`);
    const u = linspace(0, 1, S);
    const taus = Array.from(u, (v) => roundHalfEven((spacing === "quadratic" ? v * v : v) * (T - 1)));
    for (let i = 1; i < S; i++) taus[i] = Math.max(taus[i], taus[i - 1] + 1);
    for (let i = S - 2; i >= 0; i--) taus[i] = Math.min(taus[i], taus[i + 1] - 1);
    return taus.reverse();
  }

  /** blog.score.sigma_ladder: sigma_1 > ... > sigma_L, geometric. */
  function sigmaLadder(sigmaMax, sigmaMin, L) {
    const a = Math.log10(sigmaMax), b = Math.log10(sigmaMin);
    const out = Array.from(linspace(a, b, L), (v) => 10 ** v);
    out[0] = sigmaMax;
    out[L - 1] = sigmaMin;
    return out;
  }

  // --- samplers driven by the exact score, one elementary step at a time -----------------------
  // x is a Float64Array (2N,) of interleaved coordinates, updated in place.
  const SAMPLERS = ["langevin", "annealed", "ddpm", "ddim"];

  /** Every step of a run as a list of {kind, ...} records, so a run can be advanced a few steps
   *  per animation frame. settings: {sampler, steps, stepSize}; params: interactive.json. */
  function plan(settings, params) {
    const sc = params.score, dd = params.ddpm;
    const steps = [];
    switch (settings.sampler) {
      case "langevin": // eq. 4 at sigma_L: x <- x + alpha/2 s(x) + sqrt(alpha) eps
        for (let j = 0; j < settings.steps; j++)
          steps.push({ kind: "langevin", sigma: sc.langevin_sigma, alpha: settings.stepSize });
        return { start: sc.sigma_max, steps };
      case "annealed": { // Alg. 1: M steps at each sigma_i, alpha_i = eps sigma_i^2 / sigma_L^2
        const sigmas = sigmaLadder(sc.sigma_max, sc.sigma_min, sc.n_sigmas);
        const sL = sigmas[sigmas.length - 1];
        for (const sigma of sigmas)
          for (let j = 0; j < settings.steps; j++)
            steps.push({ kind: "langevin", sigma, alpha: settings.stepSize * sigma * sigma / (sL * sL) });
        if (sc.denoise) steps.push({ kind: "denoise", sigma: sL });
        return { start: sc.sigma_max, steps };
      }
      case "ddpm": { // Alg. 2 with T = steps (the linear schedule spans the same noise for any T)
        const s = makeSchedule(settings.steps, dd.schedule, dd.beta_start, dd.beta_end);
        for (let t = s.T - 1; t >= 0; t--) steps.push({ kind: "ancestral", t, schedule: s });
        return { start: 1, steps };
      }
      case "ddim": { // eq. 12, eta = 0, S = steps of the post's schedule
        const s = makeSchedule(dd.T, dd.schedule, dd.beta_start, dd.beta_end);
        const taus = ddimTimesteps(s.T, Math.min(settings.steps, s.T), dd.ddim_spacing);
        taus.forEach((t, i) => steps.push({ kind: "ddim", t, schedule: s,
          abarPrev: i + 1 < taus.length ? s.alphas_cumprod[taus[i + 1]] : 1 }));
        return { start: 1, steps };
      }
      default:
        throw new RangeError(`unknown sampler ${settings.sampler}`);
    }
  }

  /** A run of n particles of the mixture m: {x, done, total, advance(k)}. */
  function run(m, settings, params, n, seed) {
    const { start, steps } = plan(settings, params);
    const r = rng(seed);
    const x = new Float64Array(2 * n);
    for (let i = 0; i < 2 * n; i++) x[i] = start * r.normal();
    const cache = new Map(); // noise level -> noised mixture
    const noised = (key, make) => { if (!cache.has(key)) cache.set(key, make()); return cache.get(key); };
    let done = 0;
    function advance(k) {
      const end = Math.min(steps.length, done + k);
      for (; done < end; done++) step(steps[done]);
      return done;
    }
    const g = new Float64Array(2);
    function step(st) {
      if (st.kind === "langevin" || st.kind === "denoise") {
        const q = noised("ve" + st.sigma, () => ve(m, st.sigma));
        const a = st.kind === "langevin" ? 0.5 * st.alpha : st.sigma * st.sigma;
        const noise = st.kind === "langevin" ? Math.sqrt(st.alpha) : 0;
        for (let i = 0; i < 2 * n; i += 2) {
          score(q, x[i], x[i + 1], g);
          x[i] += a * g[0] + (noise && noise * r.normal());
          x[i + 1] += a * g[1] + (noise && noise * r.normal());
        }
        return;
      }
      const s = st.schedule, t = st.t, abar = s.alphas_cumprod[t];
      const q = noised(`vp${s.T}:${t}`, () => vp(m, abar));
      const c = -Math.sqrt(1 - abar); // eps* = -sqrt(1 - abar_t) grad log q(x_t)
      const ra = s.sqrt_recip_alphas_cumprod[t], rm = s.sqrt_recipm1_alphas_cumprod[t];
      for (let i = 0; i < 2 * n; i += 2) {
        score(q, x[i], x[i + 1], g);
        for (let j = 0; j < 2; j++) {
          const eps = c * g[j];
          const x0 = ra * x[i + j] - rm * eps; // x0_hat
          if (st.kind === "ancestral") {
            const mean = s.posterior_mean_coef1[t] * x0 + s.posterior_mean_coef2[t] * x[i + j];
            x[i + j] = t === 0 ? mean : mean + Math.sqrt(s.posterior_variance[t]) * r.normal();
          } else {
            x[i + j] = Math.sqrt(st.abarPrev) * x0 + Math.sqrt(Math.max(1 - st.abarPrev, 0)) * eps;
          }
        }
      }
    }
    return { x, n, total: steps.length, get done() { return done; }, advance };
  }

  // --- reading the results -----------------------------------------------------------------------
  /** Share of the points nearest to each centre mu_k (blog.metrics.nearest_mode); a point that
   *  is no longer finite (a sampler that diverged) is nearest to none, so the shares then sum
   *  to less than one. */
  function modeShares(m, x) {
    const counts = new Float64Array(m.K);
    const n = x.length / 2;
    for (let i = 0; i < x.length; i += 2) {
      if (!Number.isFinite(x[i]) || !Number.isFinite(x[i + 1])) continue;
      let best = 0, bestD = Infinity;
      for (let k = 0; k < m.K; k++) {
        const dx = x[i] - m.mx[k], dy = x[i + 1] - m.my[k], d = dx * dx + dy * dy;
        if (d < bestD) { bestD = d; best = k; }
      }
      counts[best] += 1;
    }
    return Array.from(counts, (c) => c / n);
  }

  /** The summed share of the heaviest modes, and their true weight. */
  function heavyShare(m, shares) {
    const top = Math.max(...m.weights);
    let got = 0, truth = 0;
    m.weights.forEach((w, k) => { if (w === top) { got += shares[k]; truth += w; } });
    return { got, truth };
  }

  /** An encode_array dict of figures_pipeline/writers.py as a Float64Array (offset + scale q). */
  function decodeArray(enc) {
    const bin = atob(enc.data);
    const size = enc.dtype === "uint16" ? 2 : 1;
    const out = new Float64Array(bin.length / size);
    for (let i = 0; i < out.length; i++) {
      const q = size === 1 ? bin.charCodeAt(i) : bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
      out[i] = enc.offset + enc.scale * q;
    }
    return out;
  }

  /** Density on a G x G grid of pixel centres over limits^2, row 0 at the top (largest y). */
  function densityGrid(m, limits, G, out = new Float64Array(G * G)) {
    const [lo, hi] = limits, h = (hi - lo) / G;
    for (let i = 0; i < G; i++) {
      const y = hi - (i + 0.5) * h;
      for (let j = 0; j < G; j++) out[i * G + j] = prob(m, lo + (j + 0.5) * h, y);
    }
    return out;
  }

  /** A Gaussian KDE of the points (x: interleaved (2N,)) with bandwidth h on the same grid:
   *  each point binned to its pixel, then blurred along x and along y (blog.plots.density). */
  function kdeGrid(x, limits, G, h, out = new Float64Array(G * G)) {
    const [lo, hi] = limits, cell = (hi - lo) / G;
    const bins = new Float64Array(G * G);
    const n = x.length / 2;
    for (let i = 0; i < x.length; i += 2) {
      const j = Math.floor((x[i] - lo) / cell), r = Math.floor((hi - x[i + 1]) / cell);
      if (j >= 0 && j < G && r >= 0 && r < G) bins[r * G + j] += 1;
    }
    const radius = Math.max(1, Math.ceil(3 * h / cell));
    const kernel = new Float64Array(2 * radius + 1);
    let sum = 0;
    for (let k = -radius; k <= radius; k++) sum += (kernel[k + radius] = Math.exp(-0.5 * (k * cell / h) ** 2));
    for (let k = 0; k < kernel.length; k++) kernel[k] /= sum * cell; // a density along each axis
    const tmp = new Float64Array(G * G);
    for (let r = 0; r < G; r++) for (let j = 0; j < G; j++) {
      let v = 0;
      for (let k = -radius; k <= radius; k++) { const jj = j + k; if (jj >= 0 && jj < G) v += kernel[k + radius] * bins[r * G + jj]; }
      tmp[r * G + j] = v;
    }
    for (let r = 0; r < G; r++) for (let j = 0; j < G; j++) {
      let v = 0;
      for (let k = -radius; k <= radius; k++) { const rr = r + k; if (rr >= 0 && rr < G) v += kernel[k + radius] * tmp[rr * G + j]; }
      out[r * G + j] = v / n;
    }
    return out;
  }

  return { rng, mixture, logProb, prob, score, vp, ve, fromData, linspace, makeSchedule, abarAt,
    ddimTimesteps, sigmaLadder, SAMPLERS, plan, run, modeShares, heavyShare, decodeArray,
    densityGrid, kdeGrid };
})();
