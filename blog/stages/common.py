"""What the post's stages share: the config a stage declared, trained models in and out, figures.

Cheap to import (no torch at module level): the engine imports the stage modules to read their
declarations, and `make check` must not pay for torch.
"""

from __future__ import annotations

from blog.config import DDPMConfig, MixtureConfig, PostConfig, ScoreConfig, VAEConfig, derive_seed
from blog.plots.looks import Look, looking, looks

TABLES = {"mixture": MixtureConfig, "vae": VAEConfig, "score": ScoreConfig, "ddpm": DDPMConfig}


def post_config(ctx) -> PostConfig:
    """The PostConfig of the tables the stage declared; an undeclared table is None, so reading
    it fails loudly instead of silently using a value that is not part of the stage's key."""
    c = ctx.config
    tables = {name: cls(**c[name]) if name in c else None for name, cls in TABLES.items()}
    return PostConfig(seed=c.get("seed"), profile=ctx.profile, **tables)


def seed_for(ctx, *purpose: str) -> int:
    """A seed for one purpose of one stage, derived from the config's one seed."""
    return derive_seed(ctx.config["seed"], ctx.name, *purpose)


def machine() -> str:
    """'<CPU model>, <n> cores': where the timings in the post were measured."""
    import os
    import platform

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def load_model(ctx, family: str, net):
    """`net`, a freshly built network of `family`, with the trained weights of the upstream stage
    '<family>_model', in eval mode; and the metadata saved with them. (The caller builds the net
    from its own family module, so a stage depends only on the model code it really uses.)"""
    from blog import weights

    path = ctx.upstream[f"{family}_model"].artifact(f"{family}.pt")
    loaded = weights.load(path)
    if loaded is None:
        raise RuntimeError(f"cannot read the trained {family} model at {path}")
    state, meta = loaded
    net.load_state_dict(state)
    return net.eval().requires_grad_(False), meta


def save_figure(ctx, name: str, fig) -> None:
    """Write a matplotlib figure deterministically to the declared output `name`."""
    from figures_pipeline.writers import save_figure as write

    write(fig, ctx.output(name))


# --- the looks of a figure (blog.plots.looks): light and dark, wide and narrow ---------------
def with_looks(outputs: dict, *, wide_only: tuple[str, ...] = ()) -> dict:
    """A stage's `outputs`, plus the variant files of every figure in it: name.dark.png,
    name.narrow.png and name.narrow.dark.png for a still figure (the narrow two unless the name
    is in `wide_only`: a figure already narrow enough for a phone); for an animation name.gif,
    its video and poster frame in every look (name.mp4, name.poster.png, name.dark.mp4, ...).
    The variants are plain outputs: the Markdown names only the light, wide file."""
    out = dict(outputs)
    for name, figure in outputs.items():
        if figure is None:
            continue
        if name.endswith(".gif"):
            stem = name[: -len(".gif")]
            files = [lk.file(f"{stem}{ext}") for lk in looks() for ext in (".mp4", ".poster.png")]
        else:
            files = [lk.file(name) for lk in looks(narrow=name not in wide_only)]
        for file in files:
            if file in out and file != name:
                raise ValueError(f"{file}: declared twice (a variant of {name})")
            out.setdefault(file, None)
    return out


def save_looks(ctx, name: str, draw) -> None:
    """Draw the figure `name` with `draw()` (a function of no arguments returning a matplotlib
    Figure) once in each look whose file the stage declared (with_looks), and save each."""
    for lk in looks():
        file = lk.file(name)
        if file in ctx.outputs:
            with looking(lk):
                fig = draw()
            save_figure(ctx, file, fig)


def save_animation(ctx, name: str, frames_in, *, duration_ms: int) -> None:
    """The animation `name` (.gif) in every declared look: `frames_in()` returns its frames
    (one (H, W, 3) uint8 array per frame, each shown `duration_ms`) drawn in the current look.
    Writes the GIF (light, wide: the post's named animation and its no-JavaScript fallback), and
    for each look the MP4 the page plays and its poster, the last frame (what the animation
    arrives at)."""
    from figures_pipeline.writers import save_gif, save_image, save_video

    stem = name[: -len(".gif")]
    for lk in looks():
        video = lk.file(f"{stem}.mp4")
        if video not in ctx.outputs and lk != Look():
            continue
        with looking(lk):
            frames = frames_in()
        if lk == Look():
            save_gif(frames, ctx.output(name), duration_ms=duration_ms)
        save_video(frames, ctx.output(video), duration_ms=duration_ms)
        save_image(frames[-1], ctx.output(lk.file(f"{stem}.poster.png")))
