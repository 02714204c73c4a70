"""The interactive figures (issue 13): the reverse process scrubbable, and a sampler sandbox
driven by the exact score.

The page's maths (assets/js/diffusion-maths.js) is evaluated in Chromium and held to blog.mixture,
blog.ddpm and blog.score; the figures are driven as a reader would; the data the build ships
(blog/stages/interactive.py) is checked against the config it came from. The site is the one of
tests/conftest.py (the post built with the fast profile; SITE_TEST_PROJECT reuses a built copy).
"""

from __future__ import annotations

import gzip
import json
import re
import statistics

import numpy as np
import pytest
from test_site_browser import POST_PATH, visit

from blog import ddpm, score
from blog.mixture import GaussianMixture, ring
from blog.plots.frames import frame_times
from blog.stages.interactive import DATA_FILE, field_times, interactive_data
from figures_pipeline.writers import decode_array, encode_array, save_json

FIGURES = ("reverse-process", "sampler-sandbox")
FRAME_BUDGET_MS = 16.0  # one frame at 60 Hz
WEIGHT_BUDGET = 150_000  # bytes, gzipped: the figures' script and data together
N_POINTS = 1000  # random points of the closed-form comparison
RTOL = 1e-9
BROWSER = pytest.mark.browser  # (and slow: the site is the post built from code)


# --- the build's side: the data writer and the stage ----------------------------------------------
def test_encode_array_round_trips_to_within_half_a_step():
    x = np.random.default_rng(0).uniform(-3, 3, (7, 11, 2))
    for dtype in ("uint8", "uint16"):
        enc = encode_array(x, -3.0, 3.0, dtype)
        assert enc["shape"] == [7, 11, 2] and enc["dtype"] == dtype
        assert np.abs(decode_array(enc) - x).max() <= enc["scale"] / 2 + 1e-12
    clipped = decode_array(encode_array(np.array([-9.0, 9.0]), -1.0, 1.0))
    assert clipped.tolist() == [-1.0, 1.0]


@pytest.mark.parametrize("args", [((1.0,), 1.0, -1.0), ((np.nan,), 0.0, 1.0),
                                  ((0.5,), 0.0, 1.0, "int8")])
def test_encode_array_refuses_what_it_cannot_hold(args):
    values, lo, hi, *dtype = args
    with pytest.raises(ValueError, match="encode_array"):
        encode_array(np.array(values), lo, hi, *dtype)


def test_save_json_is_canonical_and_refuses_nan(tmp_path):
    a, b = save_json({"b": [1, 2.5], "a": "ε"}, tmp_path / "a.json"), tmp_path / "b.json"
    save_json({"a": "ε", "b": [1, 2.5]}, b)
    assert a.read_bytes() == b.read_bytes() == b'{"a":"\\u03b5","b":[1,2.5]}\n'
    with pytest.raises(ValueError):
        save_json({"x": float("nan")}, tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists() and list(tmp_path.iterdir()) == [a, b]


def test_the_stage_declares_its_data_file_config_and_upstreams():
    st = interactive_data.__stage__
    assert st.outputs == (DATA_FILE,)
    assert {"mixture", "ddpm", "score", "post", "seed"} <= set(st.config)
    assert set(st.after) == {"ddpm_model", "ddpm_samples"}


def test_the_field_of_the_last_frame_is_the_samplers_last_step():
    assert field_times([1000, 500, 2, 1, 0]) == [1000, 500, 2, 1, 1]


# --- the site ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data(site_build):
    return json.loads((site_build.public / POST_PATH / DATA_FILE).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config(fast_post):
    """The post's config in the profile the built copy's data was made with."""
    from blog import config as post_config

    lock = json.loads((fast_post.root / "figures.lock").read_text(encoding="utf-8"))
    profile = lock["posts"]["generative-models"]["interactive_data"]["profile"]
    return post_config.load(profile, path=fast_post.root / "blog" / "post.toml")


@pytest.fixture(scope="module")
def gif_frames(fast_post, config) -> int:
    from figures_pipeline.config import load_config

    path = fast_post.root / "blog" / "post.toml"
    return load_config(path, profile=config.profile).values["post"]["gif_frames"]


@pytest.mark.slow
@BROWSER
def test_the_data_holds_the_configs_mixture_and_schedule(data, config):
    m = ring(config.mixture.k, config.mixture.radius, config.mixture.std)
    assert np.array_equal(np.array(data["mixture"]["means"]), m.means)
    assert data["mixture"]["w"] == config.mixture.std
    assert np.array_equal(data["mixture"]["weights"], m.weights)
    c = config.ddpm
    assert data["ddpm"] == {"T": c.timesteps, "schedule": c.schedule, "beta_start": c.beta_start,
                            "beta_end": c.beta_end, "ddim_steps": c.ddim_steps,
                            "ddim_spacing": c.ddim_spacing}
    assert data["score"]["sigma_max"] == config.score.sigma_max
    assert data["score"]["step_lr"] == config.score.step_lr


@pytest.mark.slow
@BROWSER
def test_the_data_holds_the_animations_particles_and_an_interval_per_frame(data, config,
                                                                          gif_frames):
    rev = data["reverse"]
    assert rev["t"] == frame_times(config.ddpm.timesteps, gif_frames)
    assert rev["t"][0] == config.ddpm.timesteps and rev["t"][-1] == 0
    frames, n, d = decode_array(rev["particles"]).shape
    assert frames == len(rev["t"]) and d == 2 and n >= 500
    G = rev["field_grid"]
    assert decode_array(rev["eps"]).shape == (frames, G, G, 2)
    for e in rev["discrepancy"]:
        assert 0 <= e["lo"] <= e["value"] <= e["hi"] and e["n"] > 0
    # the trained model is good where the data lives at small noise, worse at t = 1
    assert rev["discrepancy"][0]["hi"] < rev["discrepancy"][-1]["lo"]


# --- the page: figures built, maths equal to Python ----------------------------------------------
@pytest.fixture(scope="module")
def post(browser, site_url):
    v = visit(browser, site_url + POST_PATH)
    built(v.page)
    yield v
    v.page.context.close()


def built(page) -> None:
    """Bring both figures near the viewport (their data loads then) and wait until they show."""
    for name in FIGURES:
        page.eval_on_selector(f"#{name}", "e => e.previousElementSibling.scrollIntoView()")
        page.wait_for_selector(f"#{name}:not([hidden]) canvas", timeout=30_000)


def random_points(m: GaussianMixture, seed: int = 0) -> np.ndarray:
    """N_POINTS points: half uniform over the plot and beyond it, half drawn from the mixture."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(-3.5, 3.5, (N_POINTS // 2, 2)),
                           m.sample(N_POINTS - N_POINTS // 2, rng)])


def assert_close(js, py, what: str, floor: float = 0.0):
    js, py = np.asarray(js, np.float64), np.asarray(py, np.float64)
    assert js.shape == py.shape, what
    if py.ndim == 2:  # vectors: relative to each vector's norm
        err = np.linalg.norm(js - py, axis=-1) / np.maximum(np.linalg.norm(py, axis=-1), floor)
    else:
        err = np.abs(js - py) / np.maximum(np.abs(py), floor)
    assert err.max() <= RTOL, f"{what}: max relative error {err.max():.3g}"


_EVAL_MIXTURES = """([d, pts, abars, sigmas, pattern]) => {
  const M = DiffusionMaths;
  const base = M.fromData(d, pattern);
  const all = [["p", base], ...abars.map((a) => ["vp" + a, M.vp(base, a)]),
               ...sigmas.map((s) => ["ve" + s, M.ve(base, s)])];
  return all.map(([k, m]) => ({
    logp: pts.map(([x, y]) => M.logProb(m, x, y)),
    p: pts.map(([x, y]) => M.prob(m, x, y)),
    score: pts.map(([x, y]) => Array.from(M.score(m, x, y))) }));
}"""


@pytest.mark.slow
@BROWSER
@pytest.mark.parametrize("weighted", [False, True], ids=["equal", "3:1"])
def test_the_pages_density_and_score_equal_pythons_at_every_noise_level(post, data, weighted):
    pattern = data["langevin_weights"] if weighted else None
    means = np.array(data["mixture"]["means"])
    w = np.resize(np.array(pattern, float), len(means)) if weighted else data["mixture"]["weights"]
    p = GaussianMixture(means, data["mixture"]["w"], np.asarray(w) / np.sum(w))
    schedule = ddpm.make_schedule(data["ddpm"]["T"], data["ddpm"]["schedule"],
                                  data["ddpm"]["beta_start"], data["ddpm"]["beta_end"])
    abar = schedule.alphas_cumprod.numpy()
    abars = [1.0] + [float(abar[i]) for i in (0, len(abar) // 10, len(abar) // 2, len(abar) - 1)]
    s = data["score"]
    sigmas = [0.0] + score.sigma_ladder(s["sigma_max"], s["sigma_min"], s["n_sigmas"]).tolist()
    pts = random_points(p)
    js = post.page.evaluate(_EVAL_MIXTURES, [data["mixture"], pts.tolist(), abars, sigmas, pattern])
    cases = {"p": p, **{f"vp{a}": p.vp(a) for a in abars}, **{f"ve{v}": p.ve(v) for v in sigmas}}
    assert len(cases) == len(abars) + len(sigmas) + 1 >= 10
    for (key, q), got in zip(cases.items(), js, strict=True):
        assert_close(got["logp"], q.log_prob(pts), f"{key} log density", floor=1.0)
        dens = q.prob(pts)
        live = dens > 1e-250  # where the density is a normal float in both
        assert_close(np.array(got["p"])[live], dens[live], f"{key} density")
        assert_close(got["score"], q.score(pts), f"{key} score", floor=1e-300)


@pytest.mark.parametrize("T,kind", [(1000, "linear"), (200, "linear"), (1000, "cosine"),
                                    (37, "cosine")])
@pytest.mark.slow
@BROWSER
def test_the_pages_schedule_equals_blog_ddpm(post, T, kind):
    py = ddpm.make_schedule(T, kind)
    js = post.page.evaluate("""([T, kind]) => Object.fromEntries(Object.entries(
        DiffusionMaths.makeSchedule(T, kind)).filter(([k]) => k !== "T")
        .map(([k, v]) => [k, Array.from(v)]))""",
                            [T, kind])
    assert set(js) == {f for f in py.__dataclass_fields__}
    for name, values in js.items():
        assert_close(values, getattr(py, name).numpy(), f"{kind} T={T} {name}", floor=1e-300)


@pytest.mark.slow
@BROWSER
def test_the_pages_ddim_steps_and_sigma_ladder_equal_pythons(post, data):
    for T, S, spacing in [(1000, 50, "quadratic"), (1000, 10, "uniform"), (200, 20, "quadratic"),
                          (200, 200, "quadratic"), (7, 3, "uniform")]:
        js = post.page.evaluate("a => DiffusionMaths.ddimTimesteps(...a)", [T, S, spacing])
        assert js == ddpm.ddim_timesteps(T, S, spacing), (T, S, spacing)
    s = data["score"]
    js = post.page.evaluate("a => DiffusionMaths.sigmaLadder(...a)",
                            [s["sigma_max"], s["sigma_min"], s["n_sigmas"]])
    assert_close(js, score.sigma_ladder(s["sigma_max"], s["sigma_min"], s["n_sigmas"]).numpy(),
                 "sigma ladder")


@pytest.mark.slow
@BROWSER
def test_the_pages_decoder_reads_what_the_build_wrote(post, data):
    enc = data["reverse"]["eps"]
    js = post.page.evaluate("e => Array.from(DiffusionMaths.decodeArray(e))", enc)
    assert_close(js, decode_array(enc).ravel(), "decoded eps", floor=1e-12)


@pytest.mark.slow
@BROWSER
def test_the_seeded_generator_repeats_and_is_standard_normal(post):
    a, b, c = post.page.evaluate("""() => [1, 1, 2].map((s) => {
        const r = DiffusionMaths.rng(s); return Array.from({length: 20000}, r.normal); })""")
    assert a == b and a != c
    z = np.array(a)
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03  # 4 standard errors


# --- the reverse process ------------------------------------------------------------------------
def canvas_pixels(page, selector: str) -> np.ndarray:
    """(H, W, 3) uint8 of a canvas's backing store."""
    w, h, flat = page.eval_on_selector(selector, """c => { const d = c.getContext("2d")
        .getImageData(0, 0, c.width, c.height).data;
        return [c.width, c.height, Array.from(d)]; }""")
    return np.array(flat, np.uint8).reshape(h, w, 4)[..., :3]


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


def plot_coords(shape, limits) -> np.ndarray:
    """(H, W, 2) plot coordinates of the pixel centres of a canvas over limits^2."""
    h, w = shape[:2]
    lo, hi = limits
    x = lo + (np.arange(w) + 0.5) / w * (hi - lo)
    y = hi - (np.arange(h) + 0.5) / h * (hi - lo)
    return np.stack(np.meshgrid(x, y), -1)


def move_slider(page, index: int) -> None:
    page.eval_on_selector("#reverse-process-t", """(e, i) => { e.value = String(i);
        e.dispatchEvent(new Event("input", {bubbles: true})); }""", index)


EXACT = "#reverse-process .ix-panel:nth-child(2) canvas"
LEARNED = "#reverse-process .ix-panel:nth-child(1) canvas"


@pytest.mark.slow
@BROWSER
def test_moving_the_slider_changes_both_panels_and_the_readout(post):
    page = post.page
    move_slider(page, 0)
    before = [canvas_pixels(page, s) for s in (LEARNED, EXACT)]
    text = page.text_content("#reverse-process .ix-readout")
    move_slider(page, 20)
    after = [canvas_pixels(page, s) for s in (LEARNED, EXACT)]
    assert all(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert page.text_content("#reverse-process .ix-readout") != text


@pytest.mark.slow
@BROWSER
def test_at_t_0_the_exact_panels_brightest_pixels_sit_on_the_mode_centres(post, data):
    page = post.page
    move_slider(page, len(data["reverse"]["t"]) - 1)
    assert page.get_attribute("#reverse-process", "data-t") == "0"
    lum = luminance(canvas_pixels(page, EXACT))
    xy = plot_coords(lum.shape, data["limits"])
    bright = xy[lum >= 0.9 * lum.max()]  # (n, 2)
    centres = np.array(data["mixture"]["means"])
    dist = np.linalg.norm(bright[:, None] - centres[None], axis=-1)  # (n, K)
    w = data["mixture"]["w"]
    assert dist.min(1).max() < 1.5 * w, "a bright pixel away from every centre"
    assert (dist.min(0) < 0.5 * w).all(), "a centre without a bright pixel on it"


@pytest.mark.slow
@BROWSER
def test_at_t_T_the_exact_panel_is_a_single_centred_blob(post, data):
    page = post.page
    move_slider(page, 0)
    assert page.get_attribute("#reverse-process", "data-t") == str(data["ddpm"]["T"])
    lum = luminance(canvas_pixels(page, EXACT))
    xy = plot_coords(lum.shape, data["limits"])
    r = np.linalg.norm(xy, axis=-1)
    bright = r[lum >= 0.9 * lum.max()]
    assert bright.max() < 1.2 and np.linalg.norm(xy[lum >= 0.9 * lum.max()].mean(0)) < 0.1
    # brightness falls with the distance from the centre: one blob, no ring
    rings = [lum[(r >= a) & (r < a + 0.25)].mean() for a in np.arange(0, 2.75, 0.25)]
    assert all(b < a for a, b in zip(rings, rings[1:], strict=False))


@pytest.mark.slow
@BROWSER
def test_the_eps_toggle_draws_arrows_on_both_panels(post):
    page = post.page
    move_slider(page, 10)
    page.uncheck("#reverse-process-eps")
    off = [canvas_pixels(page, s) for s in (LEARNED, EXACT)]
    page.check("#reverse-process-eps")
    on = [canvas_pixels(page, s) for s in (LEARNED, EXACT)]
    page.uncheck("#reverse-process-eps")
    for a, b in zip(off, on, strict=True):
        changed = np.any(a != b, axis=-1).mean()
        assert 0.005 < changed < 0.5  # arrows drawn over the heat map, not a new picture


@pytest.mark.slow
@BROWSER
def test_the_slider_is_keyboard_operable_and_announces_t(post, data):
    page = post.page
    move_slider(page, 0)
    page.focus("#reverse-process-t")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#reverse-process", "data-t") == str(data["reverse"]["t"][1])
    page.keyboard.press("End")
    assert page.get_attribute("#reverse-process", "data-t") == "0"
    assert page.get_attribute("#reverse-process-t", "aria-valuetext").startswith("t = 0 of ")
    assert page.get_attribute("#reverse-process .ix-readout", "aria-live") == "polite"


@pytest.mark.slow
@BROWSER
def test_play_runs_the_frames_and_pause_stops_them(post):
    page = post.page
    move_slider(page, 0)
    page.click("#reverse-process button.ix-button")
    assert page.get_attribute("#reverse-process button.ix-button", "aria-pressed") == "true"
    page.wait_for_function("() => document.querySelector('#reverse-process-t').value >= 3")
    page.click("#reverse-process button.ix-button")
    stopped = page.eval_on_selector("#reverse-process-t", "e => e.value")
    page.wait_for_timeout(400)
    assert page.eval_on_selector("#reverse-process-t", "e => e.value") == stopped
    assert page.get_attribute("#reverse-process button.ix-button", "aria-pressed") == "false"


# --- the sandbox ---------------------------------------------------------------------------------
def sandbox_run(page, sampler: str, weights: str = "pattern", seed: int = 0) -> float:
    """Set the sandbox, press Run, wait for the end; the heavy modes' share."""
    page.select_option("#sampler-sandbox-sampler", sampler)
    page.check(f"#sampler-sandbox input[value='{weights}']")
    page.fill("#sampler-sandbox-seed", str(seed))
    page.dispatch_event("#sampler-sandbox-seed", "change")
    page.click("#sampler-sandbox button.ix-button")
    page.wait_for_selector("#sampler-sandbox[data-state='done']", timeout=120_000)
    return float(page.get_attribute("#sampler-sandbox", "data-heavy-share"))


@pytest.mark.slow
@BROWSER
def test_annealed_langevin_finds_the_3_to_1_weights_and_plain_langevin_does_not(post, data):
    page = post.page
    annealed = sandbox_run(page, "annealed")
    truth = float(page.get_attribute("#sampler-sandbox", "data-heavy-truth"))
    pattern = np.resize(np.array(data["langevin_weights"]), len(data["mixture"]["means"]))
    assert truth == pytest.approx(pattern[pattern == pattern.max()].sum() / pattern.sum())
    assert abs(annealed - truth) < 0.05
    plain = sandbox_run(page, "langevin")
    assert truth - plain > 0.1, "plain Langevin should visibly miss the weights"
    assert "heavy modes hold" in page.text_content("#sampler-sandbox .ix-readout")


@pytest.mark.slow
@BROWSER
@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_ddpm_and_ddim_with_the_exact_score_find_the_weights(post, sampler):
    share = sandbox_run(post.page, sampler)
    truth = float(post.page.get_attribute("#sampler-sandbox", "data-heavy-truth"))
    assert abs(share - truth) < 0.05


@pytest.mark.slow
@BROWSER
def test_too_large_a_langevin_step_breaks_the_sampler_and_says_so(post):
    page = post.page
    page.select_option("#sampler-sandbox-sampler", "langevin")
    page.eval_on_selector("#sampler-sandbox-size", """e => { e.value = e.max;
        e.dispatchEvent(new Event("input")); e.dispatchEvent(new Event("change")); }""")
    assert page.text_content("#sampler-sandbox-size + output") == "0.10"
    page.click("#sampler-sandbox button.ix-button")
    page.wait_for_selector("#sampler-sandbox[data-state='done']", timeout=120_000)
    assert "particles diverged" in page.text_content("#sampler-sandbox .ix-readout")
    page.select_option("#sampler-sandbox-sampler", "annealed")  # back to the defaults


@pytest.mark.slow
@BROWSER
def test_the_same_settings_give_the_same_run(post):
    page = post.page
    plane = "#sampler-sandbox canvas.ix-plane"
    page.fill("#sampler-sandbox-steps", "20")
    sandbox_run(page, "ddim", seed=7)  # (choosing the sampler resets the steps to its default)
    first = canvas_pixels(page, plane)
    sandbox_run(page, "ddim", seed=7)
    assert np.array_equal(first, canvas_pixels(page, plane))
    sandbox_run(page, "ddim", seed=8)
    assert not np.array_equal(first, canvas_pixels(page, plane))


@pytest.mark.slow
@BROWSER
def test_every_control_is_labelled(post):
    unnamed = post.page.evaluate("""() => [...document.querySelectorAll(
        "figure.interactive :is(input, select, button)")].filter((e) => !(
        (e.labels && e.labels.length && e.labels[0].textContent.trim()) ||
        e.getAttribute("aria-label") || (e.tagName === "BUTTON" && e.textContent.trim())))
        .map((e) => e.outerHTML)""")
    assert unnamed == []
    n = post.page.locator("figure.interactive :is(input, select, button)").count()
    assert n >= 9


# --- smooth, light, without errors ---------------------------------------------------------------
def frame_times_ms(page, name: str) -> list[float]:
    return page.eval_on_selector(f"#{name}", "f => (f.ixFrameMs || []).slice()")


@pytest.mark.slow
@BROWSER
def test_a_slider_move_and_a_sandbox_frame_take_under_16_ms(post, data, capsys):
    """The medians of the frames' work: a slider move (with the eps field drawn), and a sandbox
    frame (annealed Langevin on 2,000 particles: its steps of that frame and the drawing), plus
    the median of a single sampler step of 2,000 particles."""
    page = post.page
    page.check("#reverse-process-eps")
    page.evaluate("f => f.ixFrameMs = []", page.query_selector("#reverse-process"))
    frames = len(data["reverse"]["t"])
    for i in range(40):
        move_slider(page, (7 * i) % frames)
    page.uncheck("#reverse-process-eps")
    slider = statistics.median(frame_times_ms(page, "reverse-process")[-40:])
    page.evaluate("f => f.ixFrameMs = []", page.query_selector("#sampler-sandbox"))
    sandbox_run(page, "annealed")
    sandbox = statistics.median(frame_times_ms(page, "sampler-sandbox"))
    step = page.evaluate("""(d) => {
        const M = DiffusionMaths, m = M.fromData(d.mixture, d.langevin_weights);
        const s = {sampler: "annealed", steps: 100, stepSize: d.score.step_lr};
        const run = M.run(m, s, d, 2000, 1);
        const ms = [];
        for (let i = 0; i < 60; i++) {
          const t = performance.now(); run.advance(1); ms.push(performance.now() - t); }
        ms.sort((a, b) => a - b); return ms[30]; }""", data)
    with capsys.disabled():
        print(f"\n[interactive] medians: slider move {slider:.2f} ms, "
              f"sandbox frame {sandbox:.2f} ms, "
              f"one step of 2,000 particles {step:.2f} ms")
    assert slider < FRAME_BUDGET_MS and sandbox < FRAME_BUDGET_MS and step < FRAME_BUDGET_MS


@pytest.mark.slow
@BROWSER
def test_the_figures_script_and_data_weigh_at_most_150_kb_gzipped(site_build):
    html = (site_build.public / POST_PATH / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r'src="?(/?js/interactive[^" >]*\.js)', html)
    assert len(scripts) == 1, scripts
    files = [site_build.public / scripts[0].lstrip("/"), site_build.public / POST_PATH / DATA_FILE]
    sizes = {f.name: len(gzip.compress(f.read_bytes(), compresslevel=6, mtime=0)) for f in files}
    assert sum(sizes.values()) <= WEIGHT_BUDGET, sizes


@pytest.mark.slow
@BROWSER
def test_the_figures_load_without_console_errors(post):
    assert post.problems == []


@pytest.mark.slow
@BROWSER
@pytest.mark.parametrize("width,scheme", [(375, "dark"), (375, "light"), (1280, "dark")])
def test_the_figures_fit_a_phone_and_follow_the_colour_scheme(browser, site_url, width, scheme):
    v = visit(browser, site_url + POST_PATH, width=width, scheme=scheme)
    page = v.page
    built(page)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    for name in FIGURES:
        box = page.locator(f"#{name}").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        for control in page.locator(f"#{name} :is(input, select, button)").all():
            b = control.bounding_box()
            html = control.evaluate("e => e.outerHTML")
            assert b["x"] >= 0 and b["x"] + b["width"] <= width, html
    colours = page.eval_on_selector("#sampler-sandbox button.ix-button", """b => [
        getComputedStyle(b).color, getComputedStyle(b).backgroundColor,
        getComputedStyle(document.body).color, getComputedStyle(document.body).backgroundColor]""")
    assert colours[:2] == colours[2:], "the controls take the page's colours"
    assert v.problems == []
    page.context.close()


@pytest.mark.slow
@BROWSER
def test_reduced_motion_plays_nothing_by_itself(browser, site_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
    page = context.new_page()
    page.goto(site_url + POST_PATH)
    built(page)
    page.wait_for_timeout(1500)
    assert page.eval_on_selector("#reverse-process-t", "e => e.value") == "0"
    assert page.get_attribute("#reverse-process button.ix-button", "aria-pressed") == "false"
    assert page.get_attribute("#sampler-sandbox", "data-state") == "idle"
    context.close()


@pytest.mark.slow
@BROWSER
def test_without_javascript_the_static_figures_stay_and_the_interactive_ones_hide(browser,
                                                                                  site_url):
    v = visit(browser, site_url + POST_PATH, js=False)
    page = v.page
    for name in FIGURES:
        assert page.locator(f"#{name}").count() == 1 and not page.locator(f"#{name}").is_visible()
    for still in ("figure.animation img[src$='.gif']", "img[src*='langevin_weights']",
                  "img[src*='forward']"):
        img = page.locator(still).first
        assert img.is_visible() and img.evaluate("i => i.complete && i.naturalWidth > 0"), still
    assert v.problems == []
    page.context.close()
