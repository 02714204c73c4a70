// What the post's interactive figures share (layouts/_shortcodes/reverse-process.html and
// sampler-sandbox.html): the build's data file, fetched once; canvases sized to their box at the
// screen's pixel density; density heat maps in the colour map of the animation; arrows.
// Each figure is a <figure class="interactive" hidden> the script fills and then shows, so a
// reader without JavaScript (or of the RSS feed) sees the post's static figures only.
"use strict";

window.InteractiveFigures = (() => {
  const loads = new Map();

  /** The parsed JSON at url, fetched once per page however many figures ask for it. */
  function loadData(url) {
    if (!loads.has(url)) {
      loads.set(url, fetch(url).then((r) => {
        if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
        return r.json();
      }));
    }
    return loads.get(url);
  }

  /** Call fn once the element comes near the viewport (the data is fetched only then). A hidden
   *  element never intersects: its place is watched through the element before it. */
  function whenNear(el, fn) {
    if (!("IntersectionObserver" in window)) { fn(); return; }
    const watched = el.hidden ? el.previousElementSibling || el.parentElement : el;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) { io.disconnect(); fn(); }
    }, { rootMargin: "600px 0px" });
    io.observe(watched);
  }

  const reduceMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  /** Make an element: el("label", {class: "x", for: "id"}, child, "text", ...). */
  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === false || v === null || v === undefined) continue;
      if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) e.append(c);
    return e;
  }

  /** Size the canvas's backing store to its CSS box times the pixel density; true if changed. */
  function fit(canvas) {
    const dpr = Math.min(window.devicePixelRatio || 1, 2);
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width === w && canvas.height === h) return false;
    canvas.width = w;
    canvas.height = h;
    return true;
  }

  /** RGB triples of the build's colour map ("#rrggbb" strings). */
  function palette(hexes) {
    return hexes.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
  }

  /** Draw G x G values c in [0, 1] (row 0 at the top) over the whole canvas, colour-mapped. */
  function heatmap(canvas, c, G, colours) {
    const off = heatmap.off || (heatmap.off = document.createElement("canvas"));
    if (off.width !== G) { off.width = G; off.height = G; }
    const octx = off.getContext("2d");
    const img = octx.createImageData(G, G);
    const top = colours.length - 1;
    for (let i = 0; i < G * G; i++) {
      const rgb = colours[Math.min(top, Math.max(0, Math.round(c[i] * top)))];
      img.data[4 * i] = rgb[0];
      img.data[4 * i + 1] = rgb[1];
      img.data[4 * i + 2] = rgb[2];
      img.data[4 * i + 3] = 255;
    }
    octx.putImageData(img, 0, 0);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
  }

  /** Power-normalised densities (p / top)^gamma, top the largest value of all the arrays. */
  function normalise(arrays, gamma) {
    let top = 1e-300;
    for (const a of arrays) for (let i = 0; i < a.length; i++) if (a[i] > top) top = a[i];
    return arrays.map((a) => Float64Array.from(a, (v) => (Math.max(v, 0) / top) ** gamma));
  }

  /** Arrows (x, y, u, v) in plot units over limits^2; length = scale * |(u, v)|, in plot units. */
  function arrows(canvas, limits, field, scale, colour) {
    const ctx = canvas.getContext("2d");
    const [lo, hi] = limits;
    const px = canvas.width / (hi - lo);
    const X = (x) => (x - lo) * px, Y = (y) => (hi - y) * px;
    ctx.save();
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = Math.max(1, canvas.width / 250);
    for (const [x, y, u, v] of field) {
      const len = Math.hypot(u, v) * scale;
      if (!(len > 1e-6)) continue;
      const x1 = X(x + u * scale), y1 = Y(y + v * scale);
      ctx.beginPath();
      ctx.moveTo(X(x), Y(y));
      ctx.lineTo(x1, y1);
      ctx.stroke();
      const a = Math.atan2(y1 - Y(y), x1 - X(x)), head = Math.min(len * px * 0.4, ctx.lineWidth * 4);
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x1 - head * Math.cos(a - 0.45), y1 - head * Math.sin(a - 0.45));
      ctx.lineTo(x1 - head * Math.cos(a + 0.45), y1 - head * Math.sin(a + 0.45));
      ctx.fill();
    }
    ctx.restore();
  }

  /** A CSS custom property of the element (its colour in the current scheme). */
  const cssVar = (e, name) => getComputedStyle(e).getPropertyValue(name).trim();

  /** n as a percentage with `digits` significant digits. */
  function percent(v, digits = 2) {
    const p = 100 * v;
    return `${p === 0 ? "0" : Number(p.toPrecision(digits)).toString()} %`;
  }

  /** Record the milliseconds since `began` of one frame's work on the figure (figure.ixFrameMs,
   *  the last 200 frames): what the browser test reads to hold a frame under 16 ms. */
  function timed(figure, began) {
    const ms = figure.ixFrameMs || (figure.ixFrameMs = []);
    ms.push(performance.now() - began);
    if (ms.length > 200) ms.shift();
  }

  return { timed, loadData, whenNear, reduceMotion, el, fit, palette, heatmap, normalise, arrows, cssVar,
    percent };
})();
