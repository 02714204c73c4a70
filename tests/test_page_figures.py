"""The figures' looks (issue 12): light and dark, wide and narrow, drawn by the same plot code;
the animation's video and poster, byte-stable; the image hook's <picture> for them."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from matplotlib.text import Text
from PIL import Image
from site_helpers import copy_site, run_hugo

from blog.mixture import ring
from blog.plots import density, diagram, frames, intro, plane, vae
from blog.plots.looks import NARROW, WIDE, Look, looking, looks
from blog.plots.style import DARK, LIGHT, NARROW_WIDTH, theme
from blog.stages.common import with_looks
from figures_pipeline import Figure
from figures_pipeline.writers import (
    ffmpeg_exe,
    figure_to_array,
    save_image,
    save_video,
)

PHONE_COLUMN = 375 - 40  # CSS px: a 375-px viewport less the column's padding (main.css)
MIN_TEXT_PX = 9  # issue 12: text inside a figure at 375 px


def luminance(rgb: np.ndarray) -> float:
    lin = np.asarray(rgb, dtype=np.float64) / 255
    lin = np.where(lin <= 0.04045, lin / 12.92, ((lin + 0.055) / 1.055) ** 2.4)
    return float((lin @ np.array([0.2126, 0.7152, 0.0722])).mean())


# --- names ---------------------------------------------------------------------------------------
def test_look_file_names():
    assert [lk.file("mixture.png") for lk in looks()] == [
        "mixture.png", "mixture.dark.png", "mixture.narrow.png", "mixture.narrow.dark.png"]
    assert Look("dark").file("density_evo.poster.png") == "density_evo.poster.dark.png"
    assert looks(narrow=False) == WIDE and looks() == WIDE + NARROW
    with pytest.raises(ValueError):
        Look("sepia")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Look().file("README")


def test_with_looks_declares_every_variant_once():
    fig = Figure(alt="a", caption="c")
    out = with_looks({"a.png": fig, "b.png": fig, "notes.json": None, "anim.gif": fig},
                     wide_only=("b.png",))
    assert out["a.png"] is fig and out["anim.gif"] is fig and out["notes.json"] is None
    assert {"a.dark.png", "a.narrow.png", "a.narrow.dark.png", "b.dark.png"} <= set(out)
    assert "b.narrow.png" not in out
    assert {lk.file(f"anim{ext}") for lk in looks() for ext in (".mp4", ".poster.png")} <= set(out)
    assert "anim.dark.gif" not in out, "one GIF: the light one"
    with pytest.raises(ValueError, match="declared twice"):
        with_looks({"a.png": fig, "a.dark.png": fig})


# --- the plot code in every look -----------------------------------------------------------------
@pytest.fixture(scope="module")
def mix():
    return ring()


def every_figure(mix):
    """One call of every plot function of the post, on small synthetic inputs."""
    x, k = mix.sample_with_labels(400, np.random.default_rng(0))
    _, _, XY = density.grid(density.LIMITS, 15)
    sigmas = [1.0, 0.3, 0.1]
    exact = [mix.ve(s).score(XY) for s in sigmas]
    tau = np.linspace(0, 1, 11)[:, None, None]
    trajs = (1 - tau) * np.random.default_rng(1).standard_normal(x[:12].shape) + tau * x[:12]
    u = np.random.default_rng(2).uniform(size=300)
    ug = np.linspace(0.01, 0.99, 40)
    panels = {f"sampler {i}": x + 0.01 * i for i in range(6)}
    return {
        "mixture": lambda: plane.mixture_samples(mix, x),
        "forward": lambda: plane.forward_snapshots([x] * 5, [mix] * 5, [f"t = {i}" for i in
                                                                        range(5)]),
        "score_fields": lambda: plane.score_fields(XY, exact, exact, sigmas, mixture=mix),
        "reverse": lambda: plane.reverse_trajectories(trajs, trajs, mix),
        "samples_grid": lambda: plane.samples_comparison(panels, mix, annotations={
            "sampler 0": "off-mode 1.0 %"}, ncols=3),
        "inverse_cdf": lambda: intro.inverse_cdf(u, learned=(ug, intro.norm_ppf(ug))),
        "diagram": lambda: diagram.diagram_ddpm(mix),
        "vae_latent": lambda: vae.vae_latent(0.5 * x, k, x=x),
        "vae_samples": lambda: vae.vae_samples(x, x),
        "training": lambda: vae.training_curve({"loss": 1 / np.arange(1, 200)}, "nats"),
    }


@pytest.mark.parametrize("name", list(every_figure(ring())))
def test_every_figure_is_dark_in_the_dark_look_and_light_in_the_light_one(mix, name):
    draw = every_figure(mix)[name]
    with looking(Look("light")):
        light = figure_to_array(draw())
    with looking(Look("dark")):
        assert theme() is DARK
        dark = figure_to_array(draw())
    assert light.shape == dark.shape, "same layout, other colours"
    assert luminance(dark) < 0.2 < 0.6 < luminance(light)


@pytest.mark.parametrize("name", list(every_figure(ring())))
def test_narrow_looks_keep_text_readable_on_a_phone(mix, name):
    """Shown PHONE_COLUMN px wide, the smallest text of the narrow figure is >= 9 CSS px."""
    with looking(Look("light", narrow=True)):
        fig = every_figure(mix)[name]()
    width_in = fig.get_size_inches()[0]
    assert width_in <= NARROW_WIDTH + 1e-9
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()]
    smallest_px = min(sizes) * PHONE_COLUMN / (72 * width_in)
    assert smallest_px >= MIN_TEXT_PX, f"{name}: {min(sizes)} pt is {smallest_px:.1f} px"


def test_themes_share_roles_and_differ_in_colour():
    assert LIGHT.name == "light" and DARK.name == "dark"
    assert len(DARK.mode_colors) == len(LIGHT.mode_colors) == len(set(DARK.mode_colors)) == 8
    for role in ("background", "ink", "data", "model", "exact"):
        assert getattr(LIGHT, role) != getattr(DARK, role), role


def test_animation_frames_in_a_narrow_look_are_smaller_with_the_same_text(mix):
    g = density.grid(density.LIMITS, 30)
    d = [mix.vp(a).prob(g[2]) for a in (0.1, 1.0)]
    wide = frames.density_frames(d, d, [10, 0], 10)
    with looking(Look("dark", narrow=True)):
        narrow = frames.density_frames(d, d, [10, 0], 10)
    assert narrow[0].shape[1] < wide[0].shape[1]
    assert luminance(narrow[-1]) < 0.2


# --- video and poster ----------------------------------------------------------------------------
def moving_frames(n: int = 12, h: int = 45, w: int = 64) -> list[np.ndarray]:
    """n frames of a bright square crossing a dark field (odd height: padding is tested)."""
    out = []
    for i in range(n):
        f = np.full((h, w, 3), 20, np.uint8)
        f[10:25, 4 * i:4 * i + 12] = (240, 200, 60)
        out.append(f)
    return out


def decode(path) -> np.ndarray:
    """Every frame of a video, (N, H, W, 3) uint8, decoded by the same ffmpeg."""
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                           capture_output=True, text=True).stderr
    w, h = map(int, re.search(r", (\d+)x(\d+)", probe).groups())
    raw = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def test_video_is_byte_stable_and_decodes_to_the_frames(tmp_path):
    f = moving_frames()
    a = save_video(f, tmp_path / "a.mp4", duration_ms=120)
    b = save_video(f, tmp_path / "b.mp4", duration_ms=120)
    assert a.read_bytes() == b.read_bytes()
    data = a.read_bytes()
    assert data[4:8] == b"ftyp" and b"Lavf" not in data, "bit-exact: no muxer version string"
    back = decode(a)
    assert back.shape == (12, 46, 64, 3), "the odd row is repeated to an even height"
    err = np.abs(back[:, :45].astype(int) - np.stack(f).astype(int)).mean()
    assert err < 6, f"mean error {err:.1f} levels"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4"], "no temp files"


def test_video_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError):
        save_video([], tmp_path / "x.mp4", duration_ms=100)
    with pytest.raises(ValueError):
        save_video(moving_frames(), tmp_path / "x.mp4", duration_ms=0)
    with pytest.raises(ValueError):
        save_video(moving_frames(), tmp_path / "x.mp4", duration_ms=100, crf=60)


def test_poster_png_is_the_frame_with_no_text_chunks(tmp_path):
    frame = moving_frames()[3]
    a = save_image(frame, tmp_path / "p.png")
    assert a.read_bytes() == save_image(frame, tmp_path / "q.png").read_bytes()
    assert b"tEXt" not in a.read_bytes() and b"tIME" not in a.read_bytes()
    assert np.array_equal(np.asarray(Image.open(a).convert("RGB")), frame)
    with pytest.raises(ValueError):
        save_image(frame, tmp_path / "p.jpg")


# --- the image hook ------------------------------------------------------------------------------
def test_image_hook_offers_each_look_as_a_webp_source(tmp_path):
    """A figure with all four looks: four WebP sources, narrow-and-dark first, each with its
    own width and height; the <img> is the light PNG, no wider than the column needs."""
    site = copy_site(__import__("site_helpers").REPO, tmp_path / "src")
    folder = site / "static" / "posts" / "looks-demo"
    folder.mkdir(parents=True)
    for lk, size, shade in ((Look(), (1280, 640), 250), (Look("dark"), (1280, 640), 20),
                            (Look(narrow=True), (800, 900), 240),
                            (Look("dark", narrow=True), (800, 900), 30)):
        Image.new("RGB", size, (shade,) * 3).save(folder / lk.file("plot.png"))
    (site / "content" / "posts" / "looks-demo.md").write_text(
        "+++\ntitle = 'looks'\ndate = 2024-01-01\n+++\n\n![A plot](plot.png \"Its caption\")\n")
    run_hugo("--source", str(site), "--destination", str(tmp_path / "public"),
             "--cacheDir", str(tmp_path / "cache"), "--quiet")
    html = (tmp_path / "public" / "posts" / "looks-demo" / "index.html").read_text()
    picture = re.search(r"<picture>(.*?)</picture>", html, re.S).group(1)
    sources = re.findall(r"<source ([^>]*)>", picture)
    media = [re.search(r'media="([^"]*)"', s) for s in sources]
    assert [m.group(1) if m else "" for m in media] == [
        "(max-width: 30rem) and (prefers-color-scheme: dark)", "(max-width: 30rem)",
        "(prefers-color-scheme: dark)", ""]
    for s, (w, h) in zip(sources, [(800, 900), (800, 900), (1280, 640), (1280, 640)],
                         strict=True):
        assert 'type="image/webp"' in s and f'width="{w}"' in s and f'height="{h}"' in s, s
        widths = [int(x) for x in re.findall(r"\.webp (\d+)w", s)]
        assert widths == sorted(widths) and widths[-1] == w and min(widths) <= 480, s
    img = re.search(r"<img ([^>]*)>", picture).group(1)
    assert 'width="1280"' in img and 'height="640"' in img and ".png" in img
