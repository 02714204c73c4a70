"""figures_pipeline.writers: same figure, same bytes; no dates, no software tags, small GIFs."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from figures_pipeline.writers import (
    PNG_DPI,
    figure_to_array,
    global_palette,
    save_figure,
    save_gif,
)


def make_figure(seed: int = 0) -> Figure:
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    ax.scatter(*rng.standard_normal((2, 200)), s=4)
    ax.plot(np.linspace(-2, 2, 50), np.sin(np.linspace(-2, 2, 50)))
    ax.set_title(r"$q(x_t \mid x_{t-1})$")
    ax.set_xlim(-3, 3)  # clips the scatter: the SVG gets a clipPath with a hashed id
    return fig


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, i = [], 8
    while i < len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        chunks.append((data[i + 4:i + 8], data[i + 8:i + 8 + n]))
        i += 12 + n
    return chunks


def test_png_is_byte_identical_across_saves(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    save_figure(make_figure(), a)
    save_figure(make_figure(), b)
    assert a.read_bytes() == b.read_bytes()


def test_png_has_no_time_or_text_chunks(tmp_path):
    path = save_figure(make_figure(), tmp_path / "f.png")
    kinds = [k for k, _ in png_chunks(path.read_bytes())]
    assert b"tIME" not in kinds
    assert not {b"tEXt", b"iTXt", b"zTXt"} & set(kinds)
    assert b"matplotlib" not in path.read_bytes().lower()


def test_png_is_rendered_at_twice_the_css_width(tmp_path):
    path = save_figure(make_figure(), tmp_path / "f.png")
    with Image.open(path) as im:
        assert im.size == (round(6.4 * PNG_DPI), round(3.2 * PNG_DPI))
    assert PNG_DPI * 6.4 >= 2 * 600  # 2x the ~600-640 px the post shows


def test_svg_has_no_date_and_stable_ids(tmp_path):
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    save_figure(make_figure(), a)
    save_figure(make_figure(), b)
    text = a.read_text()
    assert a.read_bytes() == b.read_bytes()
    assert "<dc:date>" not in text and "Matplotlib" not in text
    assert re.search(r"20\d\d-\d\d-\d\d", text) is None
    assert re.search(r'id="p[0-9a-f]+"', text)  # the clip path id exists and was equal above


def test_save_figure_refuses_other_formats_and_leaves_no_temp_files(tmp_path):
    with pytest.raises(ValueError):
        save_figure(make_figure(), tmp_path / "f.jpg")
    save_figure(make_figure(), tmp_path / "sub" / "f.png")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["f.png"]


def test_figure_to_array_is_rgb_uint8_of_the_figure_size():
    fig = make_figure()
    fig.set_dpi(50)
    arr = figure_to_array(fig)
    assert arr.dtype == np.uint8 and arr.shape == (160, 320, 3)
    assert np.array_equal(arr, figure_to_array(make_figure_at(50)))


def make_figure_at(dpi: float) -> Figure:
    fig = make_figure()
    fig.set_dpi(dpi)
    return fig


def gradient_frames(n: int, h: int = 60, w: int = 80) -> list[np.ndarray]:
    """n distinct frames: a moving colour blob over a grey ramp."""
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(n):
        cx = 10 + (w - 20) * i / max(n - 1, 1)
        blob = np.exp(-((xx - cx) ** 2 + (yy - h / 2) ** 2) / 60.0)
        rgb = np.stack([255 * blob, 128 * blob + 0.5 * xx, 200 * (1 - blob)], axis=-1)
        frames.append(np.clip(rgb, 0, 255).astype(np.uint8))
    return frames


def test_gif_frames_timing_and_determinism(tmp_path):
    frames = gradient_frames(40)
    a = save_gif(frames, tmp_path / "a.gif", duration_ms=80)
    b = save_gif(frames, tmp_path / "b.gif", duration_ms=80)
    assert a.read_bytes() == b.read_bytes()
    with Image.open(a) as im:
        assert im.n_frames == 40
        assert im.info.get("loop") == 0
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
            assert im.size == (80, 60)
    assert durations == [80] * 40
    assert a.stat().st_size < 1_500_000


def test_gif_with_a_fixed_palette(tmp_path):
    frames = gradient_frames(5)
    palette = np.array([[i, i, i] for i in range(0, 256, 4)], dtype=np.uint8)
    path = save_gif(frames, tmp_path / "g.gif", duration_ms=100, palette=palette)
    with Image.open(path) as im:
        im.seek(2)
        rgb = np.asarray(im.convert("RGB"))
    assert np.all(rgb[..., 0] == rgb[..., 1])  # every pixel is one of the greys


def test_global_palette_is_deterministic():
    frames = gradient_frames(6)
    p1, p2 = global_palette(frames, colors=64), global_palette(frames, colors=64)
    assert p1.shape == (64, 3) and p1.dtype == np.uint8
    assert np.array_equal(p1, p2)


def test_gif_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError):
        save_gif([], tmp_path / "x.gif", duration_ms=50)
    with pytest.raises(ValueError):
        save_gif([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)],
                 tmp_path / "x.gif", duration_ms=50)
    with pytest.raises(ValueError):
        save_gif([np.zeros((4, 4, 3), np.float32)], tmp_path / "x.gif", duration_ms=50)


def test_gif_decodes_to_the_frames(tmp_path):
    """Unchanged pixels are written transparent; composited, every frame is exactly its input."""
    colours = np.array([[0, 0, 0], [255, 255, 255], [230, 159, 0], [0, 114, 178]], np.uint8)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 4, size=(30, 40))
    frames = []
    for i in range(6):
        idx = base.copy()
        idx[5 + i:12 + i, 3 * i:3 * i + 8] = (i % 3) + 1  # a moving block
        frames.append(colours[idx])
    path = save_gif(frames, tmp_path / "d.gif", duration_ms=50, palette=colours)
    with Image.open(path) as im:
        for i, f in enumerate(frames):
            im.seek(i)
            assert np.array_equal(np.asarray(im.convert("RGB")), f), f"frame {i}"
