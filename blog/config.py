"""The post's hyperparameters as frozen dataclasses, read from blog/post.toml.

`load(profile, overrides)` resolves the TOML file (figures_pipeline.config does the profile and
`--set` layering and the type checks); `validate(values)` adds the range checks, each failing with
a one-line message naming the key. No torch or NumPy here: the figures engine imports this module
to hash configs without paying for torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

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


# range checks: key -> (test, description)
def _ge(lo: float) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v >= lo), f">= {lo}"


def _gt(lo: float) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v > lo), f"> {lo}"


def _in(lo: float, hi: float) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: lo <= v < hi), f"in [{lo}, {hi})"


_TRAIN = {"steps": _ge(1), "batch_size": _ge(2), "lr": _gt(0), "warmup": _ge(0),
          "lr_final": _in(0, 1.0000001), "ema_decay": _in(0, 1)}
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": _ge(0), "post.samples": _ge(100), "post.gif_frames": _ge(2),
    "mixture.k": _ge(1), "mixture.radius": _ge(0), "mixture.std": _gt(0),
    **{f"{m}.{k}": r for m in ("vae", "score", "ddpm") for k, r in _TRAIN.items()},
    "vae.latent_dim": _ge(1), "vae.hidden": _ge(1), "vae.depth": _ge(1), "vae.beta": _gt(0),
    "vae.decoder_std": _ge(0),
    "score.sigma_max": _gt(0), "score.sigma_min": _gt(0), "score.n_sigmas": _ge(2),
    "score.hidden": _ge(1), "score.depth": _ge(1), "score.emb_dim": _ge(2),
    "score.step_lr": _gt(0), "score.n_steps_each": _ge(1), "score.langevin_sigma": _gt(0),
    "score.langevin_step": _gt(0), "score.langevin_steps": _ge(1),
    "ddpm.timesteps": _ge(2), "ddpm.beta_start": _in(0, 1), "ddpm.beta_end": _in(0, 1),
    "ddpm.hidden": _ge(1), "ddpm.depth": _ge(1), "ddpm.emb_dim": _ge(2),
    "ddpm.ddim_steps": _ge(1), "ddpm.ddim_eta": _ge(0),
}


def validate(values: dict[str, Any]) -> None:
    """Raise ConfigError naming the first bad key: 'ddpm.steps must be >= 1, got 0'."""
    for key, (ok, want) in _RULES.items():
        node: Any = values
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and not ok(node):
            raise ConfigError(f"{key} must be {want}, got {node!r}")
    weights = values.get("post", {}).get("langevin_weights")
    if weights is not None and (not weights or not all(
            isinstance(w, int | float) and not isinstance(w, bool) and w > 0 for w in weights)):
        raise ConfigError(f"post.langevin_weights must be a non-empty list of numbers > 0, "
                          f"got {weights!r}")
    for table in ("ddpm", "score"):
        if table not in values:
            continue
        t = values[table]
        if table == "ddpm" and t.get("schedule") not in ("linear", "cosine"):
            raise ConfigError(f"ddpm.schedule must be 'linear' or 'cosine', got "
                              f"{t.get('schedule')!r}")
        if table == "ddpm" and t.get("ddim_spacing") not in ("uniform", "quadratic"):
            raise ConfigError(f"ddpm.ddim_spacing must be 'uniform' or 'quadratic', got "
                              f"{t.get('ddim_spacing')!r}")
        if table == "ddpm" and t.get("ddim_steps", 1) > t.get("timesteps", 1):
            raise ConfigError(f"ddpm.ddim_steps must be <= ddpm.timesteps, got "
                              f"{t['ddim_steps']} > {t['timesteps']}")
        if table == "ddpm" and t.get("beta_start", 0) > t.get("beta_end", 1):
            raise ConfigError("ddpm.beta_start must be <= ddpm.beta_end")
        if table == "score" and t.get("sigma_min", 0) >= t.get("sigma_max", 1):
            raise ConfigError(f"score.sigma_min must be < score.sigma_max, got "
                              f"{t['sigma_min']} >= {t['sigma_max']}")
