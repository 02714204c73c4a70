"""What the post's stages share: the config a stage declared, trained models in and out, figures.

Cheap to import (no torch at module level): the engine imports the stage modules to read their
declarations, and `make check` must not pay for torch.
"""

from __future__ import annotations

from blog.config import DDPMConfig, MixtureConfig, PostConfig, ScoreConfig, VAEConfig, derive_seed

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
