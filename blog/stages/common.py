"""What the post's stages share: the config a stage declared, trained models in and out, figures.

Cheap to import (no torch at module level): the engine imports the stage modules to read their
declarations, and `make check` must not pay for torch.
"""

from __future__ import annotations

from typing import Any

from blog.config import DDPMConfig, MixtureConfig, PostConfig, ScoreConfig, VAEConfig, derive_seed

N_SAMPLES = 10_000  # samples drawn from every sampler for the metrics and the figures
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


def train_family(ctx, family: str) -> dict[str, Any]:
    """Train `family` ('vae', 'score', 'ddpm'), save it as the artifact '<family>.pt', and return
    the numbers the post reports about its training."""
    from blog import models, weights

    trained = models.train(family, post_config(ctx), progress=True)
    weights.save(ctx.artifact(f"{family}.pt"), trained.model.state_dict(), trained.meta)
    meta = trained.meta
    return {"params": meta["params"], "steps": meta["steps"],
            "batch_size": meta["config"]["batch_size"], "final_loss": meta["final_loss"],
            "train_seconds": meta["train_seconds"], "machine": machine()}


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


def load_family(ctx, family: str, stage: str | None = None):
    """The trained model of `family` from the upstream stage's artifact, and its metadata."""
    from blog import models, weights

    path = ctx.upstream[stage or f"{family}_model"].artifact(f"{family}.pt")
    loaded = weights.load(path)
    if loaded is None:
        raise RuntimeError(f"cannot read the trained {family} model at {path}")
    state, meta = loaded
    return models.build(family, post_config(ctx), state), meta


def save_figure(ctx, name: str, fig) -> None:
    """Write a matplotlib figure deterministically to the declared output `name`."""
    from figures_pipeline.writers import save_figure as write

    write(fig, ctx.output(name))
