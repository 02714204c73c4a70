"""Deterministic file writers for figures and animations: same input, same bytes.

A regenerated post must not change when nothing it shows changed, so every writer here strips
what varies between runs:

    PNG   no tEXt/iTXt "Software", no tIME chunk (matplotlib's `metadata={"Software": None}`)
    SVG   no <dc:date>, no creator, element ids salted with a fixed `svg.hashsalt`
    GIF   one palette for all frames, fixed frame duration, no comment or timestamp
    MP4   H.264 from the ffmpeg binary of the pinned imageio-ffmpeg wheel, one encoder thread,
          bit-exact flags, no metadata, no creation time (byte-stable for one pinned ffmpeg)
    still PNG of one uint8 frame (a video's poster), no text or time chunks

Each writer writes a temporary file beside the target and `os.replace`s it, so a reader never
sees half a file even when the writer is used outside the build engine. This module knows
nothing about the post: it takes matplotlib Figures and uint8 arrays.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, PngImagePlugin

# Pixel density of saved PNGs. Figures are drawn 6.4 in wide and shown about 640 CSS px wide,
# so 200 dpi gives 1280 px: two device pixels per CSS pixel, sharp on high-density screens.
PNG_DPI = 200
SVG_HASHSALT = "live-code-blog"  # fixed salt: SVG element ids identical across runs

_PNG_METADATA = {"Software": None}
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success `os.replace` it onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _agg_canvas(fig: Figure) -> FigureCanvasAgg:
    """The figure's Agg canvas, attaching one if the figure has none (no pyplot involved)."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    return fig.canvas


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: float = PNG_DPI) -> Path:
    """Write `fig` as PNG or SVG (by the suffix of `path`) with no run-dependent bytes; close it.

    PNGs are saved at `dpi` (default 2x: width_in * dpi = twice the CSS width). The figure's own
    layout is kept (no bbox_inches="tight"), so its pixel size is exactly figsize * dpi.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"save_figure writes .png or .svg, not {path.name!r}")
    canvas = _agg_canvas(fig)
    with atomic_path(path) as tmp, mpl.rc_context({"svg.hashsalt": SVG_HASHSALT}):
        if fmt == "png":
            canvas.print_figure(tmp, format="png", dpi=dpi, metadata=_PNG_METADATA,
                                facecolor=fig.get_facecolor())
        else:
            canvas.print_figure(tmp, format="svg", metadata=_SVG_METADATA,
                                facecolor=fig.get_facecolor())
    close_figure(fig)
    return path


def close_figure(fig: Figure) -> None:
    """Release a figure's artists (pyplot-free figures are freed once unreferenced)."""
    fig.clear()


def figure_to_array(fig: Figure) -> np.ndarray:
    """Render `fig` on its Agg canvas at its own dpi; (H, W, 3) uint8 RGB."""
    canvas = _agg_canvas(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_gif(
    frames: Sequence[np.ndarray],
    path: str | os.PathLike,
    *,
    duration_ms: int,
    loop: int = 0,
    palette: np.ndarray | None = None,
    colors: int = 256,
) -> Path:
    """Write an animated GIF of `frames` ((H, W, 3) uint8, all one shape), one palette for all.

    The palette is `palette` ((M, 3) uint8, M <= 255) when given, else one computed from the
    frames themselves (median cut over every frame, subsampled): a pure function of the pixels,
    so identical frames give identical bytes. Pixels are mapped to their nearest palette colour
    without dithering (dither noise would defeat LZW and flicker between frames). Every frame is
    shown `duration_ms`. Pixels unchanged since the previous frame are written as one reserved
    transparent index (the usual GIF inter-frame optimisation). A frame identical to the one
    before it is merged into it by the encoder (its time added to the previous frame's).
    """
    frames = _check_frames(frames)
    if duration_ms <= 0:
        raise ValueError(f"duration_ms must be > 0, got {duration_ms}")
    pal = np.asarray(palette if palette is not None else
                     global_palette(frames, colors=min(colors, 255)), dtype=np.uint8)
    pal = pal.reshape(-1, 3)
    if not 1 <= len(pal) <= 255:
        raise ValueError(f"a GIF palette here has 1..255 colours (one slot is kept for "
                         f"'unchanged'), got {len(pal)}")
    pal_image = _palette_image(pal)
    indices = [np.asarray(Image.fromarray(f, "RGB").quantize(palette=pal_image,
                                                             dither=Image.Dither.NONE))
               for f in frames]
    # Inter-frame optimisation: a pixel equal to the previous frame's becomes the transparent
    # index `keep`, so the previous frame shows through (disposal 1) and LZW sees long runs.
    keep = len(pal)
    full_palette = np.zeros((keep + 1, 3), np.uint8)
    full_palette[:keep] = pal
    images = []
    for i, idx in enumerate(indices):
        diff = idx if i == 0 else np.where(idx == indices[i - 1], keep, idx).astype(np.uint8)
        im = Image.fromarray(diff, "P")
        im.putpalette(full_palette.tobytes())
        images.append(im)
    path = Path(path)
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(duration_ms), loop=int(loop), optimize=False, disposal=1,
                       transparency=keep)
    return path


def global_palette(frames: Sequence[np.ndarray], *, colors: int = 256,
                   max_pixels: int = 2_000_000) -> np.ndarray:
    """A (colors, 3) uint8 palette for all `frames` by median cut on a fixed pixel subsample."""
    n_pixels = sum(f.shape[0] * f.shape[1] for f in frames)
    step = max(1, int(np.ceil(np.sqrt(n_pixels / max_pixels))))
    sample = np.concatenate([f[::step, ::step].reshape(-1, 3) for f in frames])
    strip = Image.fromarray(sample[None, :, :], "RGB")
    q = strip.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal = np.asarray(q.getpalette(), dtype=np.uint8).reshape(-1, 3)
    return pal[:colors]


def _palette_image(palette: np.ndarray) -> Image.Image:
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if not 1 <= len(palette) <= 256:
        raise ValueError(f"a GIF palette has 1..256 colours, got {len(palette)}")
    img = Image.new("P", (1, 1))
    img.putpalette(palette.tobytes())
    return img


# --- video ----------------------------------------------------------------------------------------
# H.264 (MP4) plays in every browser; at the post's sizes it is ~10x smaller than the GIF of the
# same frames and ~3x smaller than an animated WebP of equal quality (measured on density_evo).
VIDEO_CRF = 26  # x264 constant quality: 26 keeps 1-px lines and 12-pt text legible at 1x
# x264's speed/size trade-off. Measured on density_evo's 51 frames (640 x 372, crf 26, one thread):
# veryslow 2.3 s, slow 1.0 s, medium 0.7 s for 64, 70 and 74 kB: "slow" costs 9 % in bytes and
# saves more than half the encoding time of every build.
VIDEO_PRESET = "slow"


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped inside the pinned imageio-ffmpeg wheel (never a download)."""
    try:
        import imageio_ffmpeg
    except ImportError as e:  # pragma: no cover - requirements.txt pins it
        raise RuntimeError("save_video needs imageio-ffmpeg: run `make setup`") from e
    return imageio_ffmpeg.get_ffmpeg_exe()


def save_video(frames: Sequence[np.ndarray], path: str | os.PathLike, *, duration_ms: int,
               crf: int = VIDEO_CRF, preset: str = VIDEO_PRESET) -> Path:
    """Write `frames` ((H, W, 3) uint8, all one shape) as a silent H.264 MP4, each frame shown
    `duration_ms`, for a muted looping <video>.

    Byte-stable: one encoder thread (x264's output then does not depend on the machine's core
    count), ffmpeg's bit-exact flags (no encoder version string in the container), no metadata
    and no creation time; the moov atom first (+faststart), so playback starts before the whole
    file arrives. yuv420p (what every browser decodes) needs even sides: an odd last row or
    column is repeated. The same frames, crf and pinned ffmpeg give the same bytes.
    """
    import subprocess

    frames = _check_frames(frames)
    if duration_ms <= 0:
        raise ValueError(f"duration_ms must be > 0, got {duration_ms}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf is 0..51 (x264), got {crf}")
    h, w, _ = frames[0].shape
    pad = ((0, h % 2), (0, w % 2), (0, 0))
    raw = b"".join(np.ascontiguousarray(np.pad(f, pad, mode="edge")).tobytes() for f in frames)
    path = Path(path)
    with atomic_path(path) as tmp:
        cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w + w % 2}x{h + h % 2}",
               "-framerate", f"1000/{int(duration_ms)}", "-i", "-",
               "-an", "-c:v", "libx264", "-preset", preset, "-tune", "animation",
               "-crf", str(int(crf)), "-pix_fmt", "yuv420p", "-threads", "1",
               "-x264-params", "threads=1:lookahead-threads=1",
               "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
               "-movflags", "+faststart", "-f", "mp4", str(tmp)]
        proc = subprocess.run(cmd, input=raw, capture_output=True, check=False)
        if proc.returncode != 0:
            why = proc.stderr.decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"ffmpeg could not write {path.name}: "
                               f"{why[-1] if why else f'exit {proc.returncode}'}")
    return path


def save_image(frame: np.ndarray, path: str | os.PathLike) -> Path:
    """Write one (H, W, 3) uint8 frame as a PNG with no text or time chunks (e.g. a poster)."""
    (frame,) = _check_frames([frame])
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"save_image writes .png, not {path.name!r}")
    with atomic_path(path) as tmp:
        Image.fromarray(frame, "RGB").save(tmp, format="PNG", optimize=True,
                                           pnginfo=PngImagePlugin.PngInfo())
    return path


def _check_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The frames as arrays, checked: at least one, all uint8 RGB of one shape."""
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise ValueError("need at least one frame")
    shape = frames[0].shape
    for i, f in enumerate(frames):
        if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3 or f.shape != shape:
            raise ValueError(f"frame {i}: expected uint8 {shape} RGB, got {f.dtype} {f.shape}")
    return frames


# --- data for the page's scripts ------------------------------------------------------------------
# An interactive figure reads what the build computed as one JSON file: a small header of plain
# values and, for the bulk, quantised typed arrays (encode_array) the browser decodes with
# value = offset + scale * q. GitHub Pages serves .json gzipped, so the file stays small.
_ARRAY_TYPES = {"uint8": np.uint8, "uint16": np.uint16}


def encode_array(values: np.ndarray, lo: float, hi: float, dtype: str = "uint8") -> dict:
    """`values` quantised to `dtype` over [lo, hi] (values outside are clipped), as
    {"dtype", "shape", "offset", "scale", "data"}: data is the base64 of the C-order array,
    little-endian; value ~ offset + scale * q, to within scale / 2."""
    import base64

    if dtype not in _ARRAY_TYPES:
        raise ValueError(f"encode_array: dtype must be one of {sorted(_ARRAY_TYPES)}, "
                         f"got {dtype!r}")
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"encode_array: need finite lo < hi, got [{lo}, {hi}]")
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError("encode_array: values must be finite")
    kind = _ARRAY_TYPES[dtype]
    top = np.iinfo(kind).max
    scale = (hi - lo) / top
    q = np.rint((np.clip(values, lo, hi) - lo) / scale).astype(np.dtype(kind).newbyteorder("<"))
    return {"dtype": dtype, "shape": list(values.shape), "offset": float(lo),
            "scale": float(scale), "data": base64.b64encode(q.tobytes(order="C")).decode("ascii")}


def decode_array(encoded: dict) -> np.ndarray:
    """The float64 array an `encode_array` dict holds (what the page's script computes)."""
    import base64

    kind = np.dtype(_ARRAY_TYPES[encoded["dtype"]]).newbyteorder("<")
    q = np.frombuffer(base64.b64decode(encoded["data"]), dtype=kind)
    return (encoded["offset"] + encoded["scale"] * q.astype(np.float64)).reshape(encoded["shape"])


def save_json(value, path: str | os.PathLike) -> Path:
    """Write `value` as canonical JSON (sorted keys, no spaces, ASCII, one final newline): the
    same value gives the same bytes. NaN and infinities are refused (JSON has none)."""
    import json

    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False) + "\n"
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="ascii")
    return path
