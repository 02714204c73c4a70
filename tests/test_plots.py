"""blog.plots: every figure builds from small synthetic inputs, on the common axes, repeatably."""

from __future__ import annotations

import time

import numpy as np
import pytest
from matplotlib.figure import Figure

from blog.mixture import ring
from blog.plots import density, diagram, frames, intro, plane, vae
from blog.plots.style import LIMITS, MODE_COLORS, RC, grid_shape, plane_limits
from figures_pipeline.writers import figure_to_array, save_figure


@pytest.fixture(scope="module")
def mix():
    return ring()


@pytest.fixture(scope="module")
def data(mix):
    x, k = mix.sample_with_labels(600, np.random.default_rng(0))
    return x, k


def fake_trajectories(x0: np.ndarray, steps: int, seed: int = 1) -> np.ndarray:
    """Noise -> data by interpolation, (steps + 1, N, 2): a stand-in for a sampler's path."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(x0.shape)
    tau = np.linspace(0, 1, steps + 1)[:, None, None]
    return (1 - tau) * noise + tau * x0


def plane_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_aspect() == 1.0]


def assert_common_limits(fig: Figure, at_least: int = 1) -> None:
    axes = plane_axes(fig)
    assert len(axes) >= at_least
    for ax in axes:
        assert ax.get_xlim() == pytest.approx(LIMITS)
        assert ax.get_ylim() == pytest.approx(LIMITS)


# --- style ---------------------------------------------------------------------------------------
def test_style_constants():
    assert LIMITS == plane_limits(2.0) == (-3.0, 3.0)
    assert len(MODE_COLORS) == 8 and len(set(MODE_COLORS)) == 8
    assert min(v for k, v in RC.items() if k.endswith("size") and isinstance(v, int | float)) >= 10
    assert grid_shape(3) == (1, 3) and grid_shape(7) == (2, 4) and grid_shape(9) == (3, 3)


# --- 1-D example ---------------------------------------------------------------------------------
def test_norm_ppf_known_quantiles():
    u = np.array([0.5, 0.975, 0.025, 0.8413447460685429, 0.001, 0.999999, 1e-12])
    expected = [0.0, 1.959963984540054, -1.959963984540054, 1.0, -3.090232306167813,
                4.753424308822899, -7.034483825763872]
    np.testing.assert_allclose(intro.norm_ppf(u), expected, atol=1e-6, rtol=1e-9)
    assert abs(intro.norm_ppf(np.array(0.975)) - 1.959964) < 1e-6
    assert intro.norm_ppf(np.array([0.0]))[0] == -np.inf
    assert intro.norm_ppf(np.array([1.0]))[0] == np.inf
    assert np.isnan(intro.norm_ppf(np.array([1.5]))[0])


def test_norm_ppf_inverts_norm_cdf():
    x = np.linspace(-6, 6, 241)
    np.testing.assert_allclose(intro.norm_ppf(intro.norm_cdf(x)), x, atol=1e-8)


def test_inverse_cdf_figure():
    u = np.random.default_rng(0).uniform(size=500)
    assert len(intro.inverse_cdf(u).axes) == 4
    ug = np.linspace(0.01, 0.99, 50)
    fig = intro.inverse_cdf(u, learned=(ug, intro.norm_ppf(ug) + 0.01))
    assert isinstance(fig, Figure) and fig.axes[3].axison


def test_inverse_cdf_histogram_is_of_what_the_network_samples():
    """The histogram shows f_theta(u), not Phi^{-1}(u): with a known f (x = 4u - 2, uniform on
    [-2, 2]) its bars are the histogram of f(u), flat, and not the bell of Phi^{-1}(u)."""
    u = np.random.default_rng(0).uniform(size=2000)
    x = 4 * u - 2
    ug = np.linspace(0.01, 0.99, 50)
    fig = intro.inverse_cdf(u, learned=(ug, 4 * ug - 2), x_samples=x, bins=30)
    ax_x = fig.axes[1]
    heights = np.array([p.get_width() for p in ax_x.patches])  # horizontal bars
    expected, _ = np.histogram(x, bins=np.linspace(-3.5, 3.5, 31), density=True)
    np.testing.assert_allclose(heights, expected)
    bell, _ = np.histogram(intro.norm_ppf(u), bins=np.linspace(-3.5, 3.5, 31), density=True)
    assert not np.allclose(heights, bell, atol=0.05)
    with pytest.raises(ValueError, match="x_samples"):
        intro.inverse_cdf(u, x_samples=x[:10])


# --- densities -----------------------------------------------------------------------------------
def test_grid_layout():
    X, Y, XY = density.grid((-3, 3), 7)
    assert X.shape == Y.shape == (7, 7) and XY.shape == (7, 7, 2)
    assert X[0, 0] == -3 and X[0, -1] == 3 and Y[-1, 0] == 3  # indexed [y, x]
    assert np.array_equal(XY[..., 0], X)


def test_kde_integrates_to_one_and_peaks_at_modes(mix):
    x = mix.sample(20_000, np.random.default_rng(0))
    X, Y, XY = density.grid(LIMITS, 121)
    d = density.density_from_samples(x, (X, Y, XY), bandwidth=0.1)
    cell = (X[0, 1] - X[0, 0]) * (Y[1, 0] - Y[0, 0])
    assert d.sum() * cell == pytest.approx(1.0, abs=0.01)
    iy, ix = np.unravel_index(np.argmax(d), d.shape)
    peak = np.array([X[iy, ix], Y[iy, ix]])
    assert np.min(np.linalg.norm(mix.means - peak, axis=1)) < 0.1
    # close to the exact density smoothed by the kernel: p convolved with N(0, h^2 I)
    smoothed = mix.ve(0.1).prob(XY)
    assert np.abs(d - smoothed).max() < 0.15 * smoothed.max()


def test_a_backdrop_density_is_the_exact_density_computed_once_per_mixture(mix):
    """Drawn in four looks and in several panels, one mixture's backdrop is computed once; an
    other mixture (another noise level) gets its own, and nobody can write into the shared one."""
    p = density.backdrop_density(mix, LIMITS, 50)
    assert np.array_equal(p, mix.prob(density.grid(LIMITS, 50)[2]))
    assert density.backdrop_density(ring(), LIMITS, 50) is p  # equal parameters: the same
    other = density.backdrop_density(mix.ve(0.5), LIMITS, 50)
    assert other is not p and not np.allclose(other, p)
    assert density.backdrop_density(mix, LIMITS, 40).shape == (40, 40)
    with pytest.raises(ValueError):
        p[0, 0] = 1.0


def test_kde_is_fast():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100_000, 2))
    g = density.grid(LIMITS, 120)
    start = time.perf_counter()
    for _ in range(10):
        density.density_from_samples(x, g, 0.08)
    assert time.perf_counter() - start < 2.0  # ~60 frames in a few seconds


# --- the 2-D figures ----------------------------------------------------------------------------
def test_mixture_samples(mix, data):
    assert_common_limits(plane.mixture_samples(mix, data[0]), at_least=2)


def test_vae_figures(data):
    x, k = data
    z = 0.5 * x + 0.1
    assert_common_limits(vae.vae_latent(z, k), at_least=1)
    assert_common_limits(vae.vae_latent(z, k, x=x), at_least=2)
    fig = vae.vae_latent(z, k, x=x, z_samples=z + 0.2)
    assert_common_limits(fig, at_least=3)
    # the samples of q(z | x) are drawn, not only the means
    drawn = plane_axes(fig)[2].collections[0].get_offsets()
    np.testing.assert_allclose(drawn, (z + 0.2)[: len(drawn)])
    assert_common_limits(vae.vae_samples(x, x + 0.1), at_least=2)


def test_training_curve():
    steps = np.arange(1, 301)
    fig = vae.training_curve({"-ELBO": 3 / np.sqrt(steps), "KL": 1 - np.exp(-steps / 50)},
                           "loss (nats)")
    assert isinstance(fig, Figure)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["-ELBO", "KL"]


def test_training_curve_marks_the_least_attainable_loss_on_a_log_axis():
    steps = np.arange(1, 301)
    fig = vae.training_curve({"-ELBO": 0.3 + 200 / steps}, "loss (nats)", logy=True,
                             floor=(0.3, "H(p)"))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    floors = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(floors) == 1 and set(floors[0].get_ydata()) == {0.3}
    assert ax.get_ylim()[0] < 0.3  # the bound is in view
    assert "H(p)" in [t.get_text() for t in ax.get_legend().get_texts()]
    # a curve within a factor of two of its floor reads better on a linear axis
    narrow = vae.training_curve({"l": 1 + 1 / steps}, "loss", logy=True, floor=(0.9, "floor"))
    assert narrow.axes[0].get_yscale() == "linear"


def test_diagram_ddpm(mix):
    fig = diagram.diagram_ddpm(mix)
    assert len(fig.axes) == 8  # 3 VAE nodes + 5 chain nodes
    with pytest.raises(ValueError):
        diagram.diagram_ddpm(mix, alpha_bars=(1.0, 0.5))


def test_forward_snapshots(mix, data):
    abars = [1.0, 0.5, 0.05]
    rng = np.random.default_rng(0)
    xs = [np.sqrt(a) * data[0] + np.sqrt(1 - a) * rng.standard_normal(data[0].shape)
          for a in abars]
    fig = plane.forward_snapshots(xs, [mix.vp(a) for a in abars], [f"abar={a}" for a in abars])
    assert_common_limits(fig, at_least=3)


def test_score_fields(mix):
    _, _, XY = density.grid(LIMITS, 15)
    sigmas = [1.0, 0.3, 0.1]
    exact = [mix.ve(s).score(XY) for s in sigmas]
    fig = plane.score_fields(XY, [e * 0.9 for e in exact], exact, sigmas, mixture=mix)
    assert_common_limits(fig, at_least=6)


def significant_digits(text: str) -> list[int]:
    """The significant digits of each number written in `text`."""
    import re

    return [len(m.lstrip("0.").replace(".", "")) for m in re.findall(r"\d+\.?\d*", text)]


@pytest.mark.parametrize("narrow", [False, True])
def test_score_field_labels_give_sigma_to_at_most_three_digits(mix, narrow):
    """They printed the ladder's sigma in full (0.985248) where the text says 0.99."""
    from blog.plots.looks import Look, looking

    _, _, XY = density.grid(LIMITS, 9)
    sigmas = [0.9852476765625098, 0.3235709947239413, 0.02]
    exact = [mix.ve(s).score(XY) for s in sigmas]
    with looking(Look(narrow=narrow)):
        fig = plane.score_fields(XY, exact, exact, sigmas, mixture=mix)
    labels = [t for ax in fig.axes for t in (ax.get_title(), ax.get_ylabel()) if "sigma =" in t]
    assert len(labels) == 3
    assert all(d <= 3 for t in labels for d in significant_digits(t))
    assert "0.99" in labels[0]


def test_score_backdrop_shows_a_shallow_ring_as_a_ring():
    """At sigma ~ 1 q_sigma's centre is still ~60 % of its ring's height: the coarse backdrop's
    top band (0.6 - 1) drew it as a flat disc; the fine levels separate the two."""
    q = ring().ve(0.985)
    ratio = q.prob(np.zeros(2)) / q.prob(q.means[0] * 0.995)  # ~ 0.63
    assert 0.6 < ratio < 0.75
    band = lambda levels, r: int(np.searchsorted(levels, r))  # noqa: E731
    assert band(density.BACKDROP_LEVELS, ratio) == band(density.BACKDROP_LEVELS, 1.0)
    assert band(density.FINE_LEVELS, ratio) != band(density.FINE_LEVELS, 1.0)


def test_score_error_maps(mix):
    _, _, XY = density.grid(LIMITS, 30)
    sigmas = [0.1, 0.02]
    errs = [np.abs(XY[..., 0]) + 0.05 for _ in sigmas]
    fig = plane.score_error_maps(XY, errs, [mix.ve(s) for s in sigmas], sigmas)
    axes = plane_axes(fig)
    assert_common_limits(fig, at_least=2)
    shown = axes[0].images[0].get_array()
    np.testing.assert_allclose(shown, np.clip(errs[0], 1e-2, 3.0))
    with pytest.raises(ValueError):
        plane.score_error_maps(XY, errs[:1], [mix], sigmas)


def test_trajectory_figures(mix, data):
    trajs = fake_trajectories(data[0][:20], 30)
    assert_common_limits(plane.langevin_trajectories(trajs, mix, n_show=8))
    assert_common_limits(plane.reverse_trajectories(trajs, trajs[::5], mix), at_least=2)


def test_reverse_titles_are_drawn_as_given_and_the_ddpm_panel_shows_a_few_paths(mix, data):
    """It appended ', N steps' to titles that already said so ("DDIM, 50 steps, 50 steps"), and
    drew every DDPM path, a tangle."""
    trajs = fake_trajectories(data[0][:20], 30)
    titles = ("DDPM, 4 paths,\n30 steps", "DDIM, 12 paths,\n6 steps")
    fig = plane.reverse_trajectories(trajs, trajs[::5], mix, n_show=(4, 12), titles=titles)
    axes = plane_axes(fig)
    assert tuple(ax.get_title() for ax in axes) == titles
    assert len(axes[0].lines) == 4 and len(axes[1].lines) == 12


def test_samples_comparison_can_draw_every_sample(mix):
    x = mix.sample(5000, np.random.default_rng(0))
    fig = plane.samples_comparison({"a": x}, mix, max_points=None)
    assert len(plane_axes(fig)[0].collections[-1].get_offsets()) == 5000


def test_samples_grid_panels_are_named_as_the_results_table_rows():
    """The grid's panels and the table's rows name the same samplers alike, and show the same
    sample arrays (stage, key)."""
    import re
    from pathlib import Path

    from blog.stages.results import PANELS

    template = (Path(__file__).parent.parent / "blog/templates/results.md.j2").read_text()
    block = template[template.index("{% set rows = ["):template.index("] -%}")]
    rows = {name: (stage, key) for name, stage, key
            in re.findall(r'\("([^"]+)", (\w+)\.(\w+)\)', block)}
    assert rows == PANELS


@pytest.mark.parametrize("n", [2, 5, 7])
def test_samples_comparison(mix, data, n):
    panels = {f"model {i}": data[0] + 0.01 * i for i in range(n)}
    fig = plane.samples_comparison(panels, mix, annotations={"model 0": "MMD 0.001"})
    assert_common_limits(fig, at_least=n)
    assert plane_axes(fig)[0].get_xlabel() == "MMD 0.001"


def test_figures_are_deterministic_and_small(tmp_path, mix, data):
    a = save_figure(plane.mixture_samples(mix, data[0]), tmp_path / "a.png")
    b = save_figure(plane.mixture_samples(mix, data[0]), tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_size < 400_000


def test_figure_renders_quickly(mix, data):
    start = time.perf_counter()
    figure_to_array(plane.samples_comparison({"a": data[0], "b": data[0]}, mix))
    assert time.perf_counter() - start < 3.0


# --- GIF frames ----------------------------------------------------------------------------------
def test_density_frames(mix):
    g = density.grid(LIMITS, 40)
    abars = [0.01, 0.3, 0.9, 1.0]
    exact = [mix.vp(a).prob(g[2]) for a in abars]
    model = [e * 0.9 for e in exact]
    out = frames.density_frames(model, exact, [300, 200, 50, 0], 300, dpi=40)
    assert len(out) == 4
    assert {f.shape for f in out} == {out[0].shape}
    assert out[0].dtype == np.uint8 and out[0].shape[2] == 3
    assert not np.array_equal(out[0], out[-1])
    again = frames.density_frames(model, exact, [300, 200, 50, 0], 300, dpi=40)
    assert all(np.array_equal(a, b) for a, b in zip(out, again, strict=True))
    with pytest.raises(ValueError):
        frames.density_frames(model, exact[:2], [1, 0], 1)


def test_frame_times_run_from_T_to_0_densest_near_the_data():
    times = frames.frame_times(1000, 48)
    assert times[0] == 1000 and times[-1] == 0 and times == sorted(times, reverse=True)
    gaps = [a - b for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] > gaps[-1]  # quadratic: long strides near the noise, short near the data
    assert len(frames.frame_times(10, 48)) == 11  # every step, when there are fewer


@pytest.mark.parametrize("T", [50, 200, 1000])
def test_frame_times_are_as_many_distinct_steps_as_configured(T):
    """Rounding the quadratic schedule used to merge two frames at t = 0 (47 of 48)."""
    times = frames.frame_times(T, 48)
    assert len(times) == len(set(times)) == 48
    assert times[0] == T and times[-1] == 0


# --- the new figures in every look ---------------------------------------------------------------
def new_figures(mix):
    """The figures issue 11 added or changed, on small synthetic inputs."""
    x, k = mix.sample_with_labels(400, np.random.default_rng(0))
    _, _, XY = density.grid(LIMITS, 30)
    sigmas = [0.1, 0.02]
    errs = [np.abs(XY[..., 0]) + 0.05 for _ in sigmas]
    steps = np.arange(1, 301)
    return {
        "score_error": lambda: plane.score_error_maps(XY, errs, [mix.ve(s) for s in sigmas],
                                                      sigmas),
        "vae_latent": lambda: vae.vae_latent(0.5 * x, k, x=x, z_samples=0.5 * x + 0.1),
        "training_floor": lambda: vae.training_curve({"-ELBO": 0.3 + 200 / steps}, "nats",
                                                     logy=True, floor=(0.3, "$H(p)$")),
    }


@pytest.mark.parametrize("name", list(new_figures(ring())))
def test_new_figures_keep_text_readable_at_375_px_and_draw_in_the_dark(mix, name):
    """Shown 335 CSS px wide (a 375-px phone less padding), the smallest text of the narrow
    look is at least 9 px; the dark look has the dark page's background."""
    from matplotlib.text import Text

    from blog.plots.looks import Look, looking
    from blog.plots.style import DARK, NARROW_WIDTH

    with looking(Look("light", narrow=True)):
        fig = new_figures(mix)[name]()
    width_in = fig.get_size_inches()[0]
    assert width_in <= NARROW_WIDTH + 1e-9
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()]
    assert min(sizes) * 335 / (72 * width_in) >= 9
    with looking(Look("dark")):
        dark = figure_to_array(new_figures(mix)[name]())
    corner = dark[0, 0, :3]
    assert np.allclose(corner, [int(DARK.background[i:i + 2], 16) for i in (1, 3, 5)], atol=2)


def test_a_six_column_grid_keeps_every_title_and_note_inside_its_panel(mix, data):
    """Six panels a row left 'exact samples' and 'off-mode 80.0 %' wider than their panels,
    clipped at the figure's edge and running into the neighbours."""
    from blog.stages.results import PANELS, off_mode_note

    note = off_mode_note({"value": 0.8, "lo": 0.793, "hi": 0.808})
    panels = {title: data[0] for title in PANELS}
    fig = plane.samples_comparison(panels, mix, annotations=dict.fromkeys(PANELS, note),
                                   ncols=6)
    fig.draw_without_rendering()  # laid out as when it is saved
    renderer = fig.canvas.get_renderer()
    for ax in plane_axes(fig):
        box = ax.get_window_extent(renderer)
        for text in (ax.title, ax.xaxis.label):
            t = text.get_window_extent(renderer)
            assert t.x0 >= box.x0 - 2 and t.x1 <= box.x1 + 2, text.get_text()
