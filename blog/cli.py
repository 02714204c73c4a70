"""The command line the figures engine and outside checks call: thin commands over blog.models.

    python -m blog sample MODEL -n N --seed S -o OUT.npy [--profile fast] [--set key=value ...]
    python -m blog train MODEL [--retrain]
    python -m blog metrics MODEL [-n N] [--json]

Every error (unknown model, bad number, unwritable path, bad config) is one line on stderr and
exit code 2; progress bars go to stderr, results to stdout or the output file.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from pathlib import Path

import click

from blog import config as blog_config
from figures_pipeline.config import ConfigError

MODEL_NAMES = ["data", "vae", "langevin", "annealed-langevin", "ddpm", "ddim", "heun",
               "langevin-exact", "annealed-langevin-exact", "ddpm-exact", "ddim-exact",
               "heun-exact"]  # = models.ModelName
FAMILY_OF = {"vae": "vae", "score": "score", "langevin": "score", "annealed-langevin": "score",
             "ddpm": "ddpm", "ddim": "ddpm", "heun": "ddpm"}  # `train` takes a family or a sampler


class OneLineErrors(click.Group):
    """A group whose errors are a single 'Error: ...' line and exit code 2, never a traceback."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except click.ClickException as e:
            click.echo(f"Error: {e.format_message()}", err=True)
            sys.exit(2)
        except (ConfigError, OSError, FloatingPointError) as e:  # + blog.train.TrainingDiverged
            click.echo(f"Error: {e}", err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def config_options(f):
    """--profile and --set, resolved into a PostConfig passed as `cfg`."""

    @click.option("--profile", type=click.Choice(["default", "fast"]), default="default",
                  show_default=True, help="Config profile of blog/post.toml.")
    @click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                  help="Override one config value, e.g. --set ddpm.steps=300 (repeatable).")
    @functools.wraps(f)
    def wrapper(profile, overrides, **kwargs):
        try:
            cfg = blog_config.load(profile, overrides)
        except ConfigError as e:
            raise click.BadParameter(str(e).split(": ", 1)[-1], param_hint="--set") from None
        return f(cfg=cfg, **kwargs)

    return wrapper


model_argument = click.argument("model", type=click.Choice(MODEL_NAMES), metavar="MODEL")


@click.group(cls=OneLineErrors)
def cli():
    """The toy models of the post "Generative models: VAE, Score, and Diffusion"."""


@cli.command()
@model_argument
@click.option("-n", "n", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Number of samples.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed of the sampling draws (default: the config seed).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the (N, 2) float64 array (.npy).")
@config_options
def sample(model, n, seed, output, cfg):
    """Draw N samples from MODEL (training it first if its weights are not cached)."""
    import numpy as np

    from blog import models

    _check_writable(output)
    x = models.sample(model, cfg, n, cfg.seed if seed is None else seed, progress=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, suffix=".npy")
    with os.fdopen(fd, "wb") as f:
        np.save(f, x)
    os.replace(tmp, output)


@cli.command()
@click.argument("model", type=click.Choice(sorted(FAMILY_OF)), metavar="MODEL")
@click.option("--retrain", is_flag=True, help="Train even when cached weights exist.")
@config_options
def train(model, retrain, cfg):
    """Train MODEL's network (or load it from the cache) and print its training summary."""
    from blog import models

    t = models.trained(FAMILY_OF[model], cfg, progress=True, retrain=retrain)
    m = t.meta
    src = "cache" if t.from_cache else "trained"
    click.echo(f"{m['family']}: {m['steps']} steps, final loss {m['final_loss']:.4f}, "
               f"{m['train_seconds']:.1f} s ({src})")


@cli.command()
@model_argument
@click.option("-n", "n", type=click.IntRange(min=4), default=10000, show_default=True,
              help="Number of samples measured.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed of the sampling draws (default: config seed + 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@config_options
def metrics(model, n, seed, as_json, cfg):
    """Sample MODEL and measure it against the exact mixture, each metric with its 95 % interval."""
    from blog import metrics as blog_metrics
    from blog import models

    seed = cfg.seed + 1 if seed is None else seed
    x = models.sample(model, cfg, n, seed, progress=True)
    report = blog_metrics.evaluate(x, models.mixture_of(cfg))
    if as_json:
        click.echo(json.dumps({"model": model, **report.as_dict()}, indent=2))
    else:
        click.echo(blog_metrics.format_table({model: report}))


def _check_writable(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise click.BadParameter(f"{path} is a directory", param_hint="-o")
    if not parent.is_dir():
        raise click.BadParameter(f"folder {parent} does not exist", param_hint="-o")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise click.BadParameter(f"{path} is not writable", param_hint="-o")
