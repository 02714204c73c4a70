"""The post's hyperparameters as frozen dataclasses, read from blog/post.toml.

`load(profile, overrides)` resolves the TOML file (figures_pipeline.config does the profile and
`--set` layering and the type checks); `validate(values)` adds the range checks, each failing with
a one-line message naming the key. No torch or NumPy here: the figures engine imports this module
to hash configs without paying for torch.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from figures_pipeline.config import ConfigError, load_config

POST_TOML = Path(__file__).with_name("post.toml")
Schedule = Literal["linear", "cosine"]
Spacing = Literal["uniform", "quadratic"]
Prediction = Literal["eps", "edm"]
TSampling = Literal["uniform", "lognormal"]


@dataclass(frozen=True)
class MixtureConfig:
    k: int = 8  # number of modes K
    radius: float = 2.0  # centres mu_k = radius (cos 2 pi k/K, sin 2 pi k/K)
    std: float = 0.1  # per-axis standard deviation of each mode


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 4000  # optimiser steps (each on a fresh minibatch of exact samples)
    batch_size: int = 512  # samples per step
    lr: float = 2e-3  # peak Adam learning rate
    warmup: int = 100  # linear warm-up steps, then cosine decay to lr * lr_final
    lr_final: float = 0.02  # final lr as a fraction of the peak
    ema_decay: float = 0.999  # EMA of the weights used for sampling (0 = no EMA)


@dataclass(frozen=True)
class VAEConfig(TrainConfig):
    latent_dim: int = 2  # z in R^2 so the latent space can be drawn
    hidden: int = 128  # width of encoder and decoder MLPs
    depth: int = 3  # hidden layers of each
    beta: float = 1.0  # KL weight (1 = the ELBO)
    decoder_std: float = 0.1  # fixed std of p(x | z); 0 = learned per point
    min_logvar: float = -9.0  # floor on a learned decoder log-variance


@dataclass(frozen=True)
class ScoreConfig(TrainConfig):
    sigma_max: float = 3.0  # sigma_1, largest noise level of the ladder
    sigma_min: float = 0.01  # sigma_L, smallest noise level
    n_sigmas: int = 10  # L, levels in the geometric ladder
    hidden: int = 128  # MLP width
    depth: int = 3  # hidden layers
    emb_dim: int = 64  # sinusoidal noise-level embedding size
    step_lr: float = 2e-5  # epsilon of annealed Langevin (step alpha_i = eps sigma_i^2/sigma_L^2)
    n_steps_each: int = 100  # T, Langevin steps per noise level
    denoise: bool = True  # final Tweedie step x + sigma_L^2 s(x, sigma_L)
    langevin_sigma: float = 0.01  # noise level of the network used by plain Langevin
    langevin_step: float = 1e-3  # plain Langevin step size alpha
    langevin_steps: int = 1000  # plain Langevin steps


@dataclass(frozen=True)
class DDPMConfig(TrainConfig):
    timesteps: int = 1000  # T
    schedule: Schedule = "linear"  # beta_t schedule
    beta_start: float = 1e-4  # beta_1 (linear schedule)
    beta_end: float = 0.02  # beta_T (linear schedule)
    hidden: int = 128  # MLP width
    depth: int = 3  # hidden layers
    emb_dim: int = 64  # sinusoidal timestep embedding size
    ddim_steps: int = 50  # S, DDIM steps (a subsequence of 1..T)
    ddim_eta: float = 0.0  # 0 = deterministic DDIM
    ddim_spacing: Spacing = "quadratic"  # how the S steps are spread over 0..T-1
    heun_steps: int = 25  # N, noise levels of Heun's sampler: 2N - 1 network evaluations
    prediction: Prediction = "eps"  # network output: eps (L_simple) or EDM's preconditioned F
    sigma_data: float = 1.0  # s_d of EDM's c_skip, c_out, c_in (1 = v-prediction)
    t_sampling: TSampling = "uniform"  # loss's t: uniform (DDPM) or log-normal sigma (EDM)
    p_mean: float = -1.2  # log-normal t: mean of ln sigma_t
    p_std: float = 1.2  # log-normal t: std of ln sigma_t
    t_draws: int = 0  # distinct t per minibatch, each shared by batch/t_draws samples (0: all)
    fourier_features: int = 0  # random Fourier features of the network's input (0: raw x_t)
    fourier_scale: float = 0.5  # std of their frequencies (per unit of the network's input)


@dataclass(frozen=True)
class PostConfig:
    seed: int  # the one seed every random draw derives from
    mixture: MixtureConfig
    vae: VAEConfig
    score: ScoreConfig
    ddpm: DDPMConfig
    profile: str = "default"  # where the values came from (not a hyperparameter)

    @classmethod
    def from_dict(cls, values: dict[str, Any], profile: str = "default") -> PostConfig:
        return cls(
            seed=values["seed"],
            mixture=_build(MixtureConfig, values, "mixture"),
            vae=_build(VAEConfig, values, "vae"),
            score=_build(ScoreConfig, values, "score"),
            ddpm=_build(DDPMConfig, values, "ddpm"),
            profile=profile,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("profile")
        return d


def _build(cls, values: dict[str, Any], table: str):
    given = dict(values.get(table, {}))
    names = {f.name for f in fields(cls)}
    missing, unknown = names - set(given), set(given) - names
    if missing or unknown:
        what = f"missing {sorted(missing)}" if missing else f"unknown {sorted(unknown)}"
        raise ConfigError(f"[{table}] keys {what}")
    return cls(**given)


def load(profile: str = "default", overrides: Iterable[str] = (), path: Path = POST_TOML
         ) -> PostConfig:
    """The post's config for `profile` with `key=value` overrides, validated."""
    cfg = load_config(path, profile=profile, overrides=overrides, validate=validate)
    return PostConfig.from_dict(cfg.values, cfg.profile)


def derive_seed(seed: int, *names: str) -> int:
    """A 63-bit seed for one purpose (e.g. derive_seed(0, 'ddpm', 'train')), stable across runs."""
    text = json.dumps([seed, *names])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


# ---------------------------------------------------------------- validation
# Types come from the dataclasses above (a field added there is type-checked for free); every
# number must be finite; ranges are intervals, bounded above wherever a large value diverges or
# means nothing (a learning rate, a step size, a beta), so that a typo such as lr=1e4 is refused
# before a minute of NaN training.

@dataclass(frozen=True)
class Interval:
    """lo <= v <= hi (each end open or closed); hi None: no upper bound (a count, whose only
    harm when large is time)."""

    lo: float
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, v: float) -> bool:
        above = v > self.lo if self.lo_open else v >= self.lo
        below = self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)
        return above and below

    def __str__(self) -> str:
        if self.hi is None:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        return (f"in {'(' if self.lo_open else '['}{self.lo:g}, "
                f"{self.hi:g}{')' if self.hi_open else ']'}")


def _at_least(lo: float) -> Interval:
    return Interval(lo)


_TABLES = {"mixture": MixtureConfig, "vae": VAEConfig, "score": ScoreConfig, "ddpm": DDPMConfig}
_POST_TYPES = {"samples": int, "gif_frames": int}  # the [post] table has no dataclass

_UNIT = Interval(0, 1, lo_open=True)  # a learning rate or a step size: above 1 it diverges
_SCALE = Interval(0, 1e3, lo_open=True)  # a length or noise level on the ring's scale (radius 2)
_TRAIN = {"steps": _at_least(1), "batch_size": _at_least(2), "lr": _UNIT, "warmup": _at_least(0),
          "lr_final": Interval(0, 1), "ema_decay": Interval(0, 1, hi_open=True)}
RANGES: dict[str, Interval] = {
    "seed": Interval(0, 2**63 - 1), "post.samples": _at_least(100),
    "post.gif_frames": _at_least(2),
    "mixture.k": _at_least(1), "mixture.radius": Interval(0, 1e3), "mixture.std": _SCALE,
    **{f"{m}.{k}": r for m in ("vae", "score", "ddpm") for k, r in _TRAIN.items()},
    "vae.latent_dim": _at_least(1), "vae.hidden": _at_least(1), "vae.depth": _at_least(1),
    "vae.beta": Interval(0, 1e3, lo_open=True), "vae.decoder_std": Interval(0, 1e3),
    "vae.min_logvar": Interval(-30, 10),
    "score.sigma_max": _SCALE, "score.sigma_min": _SCALE, "score.n_sigmas": _at_least(2),
    "score.hidden": _at_least(1), "score.depth": _at_least(1), "score.emb_dim": _at_least(2),
    "score.step_lr": _UNIT, "score.n_steps_each": _at_least(1), "score.langevin_sigma": _SCALE,
    "score.langevin_step": _UNIT, "score.langevin_steps": _at_least(1),
    "ddpm.timesteps": _at_least(2), "ddpm.beta_start": Interval(0, 1, hi_open=True),
    "ddpm.beta_end": Interval(0, 1, hi_open=True), "ddpm.hidden": _at_least(1),
    "ddpm.depth": _at_least(1), "ddpm.emb_dim": _at_least(2), "ddpm.ddim_steps": _at_least(1),
    "ddpm.ddim_eta": Interval(0, 1),
}


def validate(values: dict[str, Any]) -> None:
    """Raise ConfigError naming the first bad key: 'ddpm.lr must be in (0, 1], got 10000.0'.

    In order: each value's type (from the dataclass field: int, float, bool, or a Literal's
    choices), then finiteness of every number, then the ranges, then the relations between keys.
    """
    for table, cls in _TABLES.items():
        if isinstance(values.get(table), dict):
            hints = get_type_hints(cls)
            for f in fields(cls):
                if f.name in values[table]:
                    _check_type(f"{table}.{f.name}", values[table][f.name], hints[f.name])
    if isinstance(values.get("post"), dict):
        for k, t in _POST_TYPES.items():
            if k in values["post"]:
                _check_type(f"post.{k}", values["post"][k], t)
    _check_type("seed", values.get("seed", 0), int)
    for key, v in _leaves(values):
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{key} must be a finite number, got {v!r}", key)
    for key, interval in RANGES.items():
        node: Any = values
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and node not in interval:
            raise ConfigError(f"{key} must be {interval}, got {node!r}", key)
    weights = values.get("post", {}).get("langevin_weights")
    if weights is not None and (not isinstance(weights, list) or not weights or not all(
            isinstance(w, int | float) and not isinstance(w, bool) and 0 < w < 1e6
            for w in weights)):
        raise ConfigError(f"post.langevin_weights must be a non-empty list of numbers in "
                          f"(0, 1e6), got {weights!r}", "post.langevin_weights")
    d, s = values.get("ddpm", {}), values.get("score", {})
    if d.get("ddim_steps", 1) > d.get("timesteps", 1):
        raise ConfigError(f"ddpm.ddim_steps must be <= ddpm.timesteps, got "
                          f"{d['ddim_steps']} > {d['timesteps']}", "ddpm.ddim_steps")
    if d.get("beta_start", 0) > d.get("beta_end", 1):
        raise ConfigError("ddpm.beta_start must be <= ddpm.beta_end", "ddpm.beta_start")
    if s.get("sigma_min", 0) >= s.get("sigma_max", 1):
        raise ConfigError(f"score.sigma_min must be < score.sigma_max, got "
                          f"{s['sigma_min']} >= {s['sigma_max']}", "score.sigma_min")


def _check_type(key: str, v: Any, want: Any) -> None:
    choices = get_args(want) if get_origin(want) is Literal else None
    if choices is not None:
        ok, what = v in choices and isinstance(v, str), " or ".join(map(repr, choices))
    elif want is bool:
        ok, what = isinstance(v, bool), "true or false"
    elif want is int:
        ok, what = isinstance(v, int) and not isinstance(v, bool), "an integer"
    elif want is float:
        ok, what = isinstance(v, int | float) and not isinstance(v, bool), "a number"
    else:
        ok, what = isinstance(v, want), want.__name__
    if not ok:
        raise ConfigError(f"{key} must be {what}, got {v!r}", key)


def _leaves(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in tree.items():
        if isinstance(v, dict):
            yield from _leaves(v, f"{prefix}{k}.")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                yield f"{prefix}{k}[{i}]", x
        else:
            yield f"{prefix}{k}", v
