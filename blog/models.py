"""The registry of the post's models: which trained family each needs, how each samples.

Three trained families (vae, score, ddpm) serve ten samplers plus the data itself; the `-exact`
twins run the same algorithm on the closed-form score / noise of the noised mixture, which
separates the network's error from the sampler's. A sampler and its twin draw from the same
seeded generator in the same order, so given one seed they start from the same noise and add the
same noise at every step. `trained(family, cfg)` returns cached weights when the config, seed and
code match (blog.weights), and trains otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum

import numpy as np
import torch
from torch import nn

from blog import ddpm, edm, score, vae, weights
from blog.config import PostConfig, derive_seed
from blog.mixture import GaussianMixture, from_config
from blog.train import Family, progress_steps, steady_allocator, torch_threads, train_family

SAMPLE_THREADS = 1  # sampling on one thread too: results never depend on the caller's setting


class ModelName(StrEnum):
    DATA = "data"
    VAE = "vae"
    LANGEVIN = "langevin"
    ANNEALED_LANGEVIN = "annealed-langevin"
    DDPM = "ddpm"
    DDIM = "ddim"
    HEUN = "heun"
    LANGEVIN_EXACT = "langevin-exact"
    ANNEALED_LANGEVIN_EXACT = "annealed-langevin-exact"
    DDPM_EXACT = "ddpm-exact"
    DDIM_EXACT = "ddim-exact"
    HEUN_EXACT = "heun-exact"


def mixture_of(cfg: PostConfig) -> GaussianMixture:
    return from_config(cfg.mixture)


# trained families: each family module declares its own (a build stage that trains one family
# depends on that module only)
FAMILIES: dict[str, Family] = {f.name: f for f in (vae.FAMILY, score.FAMILY, ddpm.FAMILY)}


@dataclass
class Trained:
    model: nn.Module  # in eval mode, on CPU
    meta: dict  # family, config, mixture, seed, steps, final_loss, train_seconds, history
    from_cache: bool

    @property
    def history(self) -> list[float]:
        return self.meta["history"]


def trained(family: str, cfg: PostConfig, progress: bool = False, retrain: bool = False
            ) -> Trained:
    """The family's model trained with cfg: from the weights cache, or trained and cached."""
    fam = FAMILIES[family]
    key = weights.cache_key(family, {"model": asdict(fam.config(cfg)),
                                     "mixture": asdict(cfg.mixture)},
                            cfg.seed, list(fam.modules))
    path = weights.cache_path(family, key)
    hit = None if retrain else weights.load(path)
    if hit is not None:
        return Trained(build(family, cfg, hit[0]), hit[1], True)
    result = train(family, cfg, progress)
    weights.save(path, result.model.state_dict(), result.meta)
    return result


def train(family: str, cfg: PostConfig, progress: bool = False) -> Trained:
    """Train the family from its seeded initialisation (no cache): the model and its metadata."""
    model, meta = train_family(FAMILIES[family], cfg, progress)
    return Trained(model, meta, False)


def build(family: str, cfg: PostConfig, state_dict: dict) -> nn.Module:
    """The family's network with the given trained weights, in eval mode."""
    model = FAMILIES[family].build(cfg)
    model.load_state_dict(state_dict)
    return model.eval().requires_grad_(False)


# samplers: (trained model or None, cfg, n, generator) -> iterator over x (N, 2)
Sampler = Callable[[nn.Module | None, PostConfig, int, torch.Generator], Iterator[torch.Tensor]]


@dataclass(frozen=True)
class ModelSpec:
    name: ModelName
    family: str | None  # the trained family it needs; None: closed form only
    sampler: Sampler
    n_steps: Callable[[PostConfig], int]  # how many steps the sampler yields after x_0
    nfe: Callable[[PostConfig], int]  # network (or exact score) evaluations per sample

    @property
    def algorithm(self) -> str:
        """The sampler without its '-exact': a twin pair shares it, and so its random draws."""
        return self.name.value.removesuffix("-exact")


REGISTRY: dict[ModelName, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in REGISTRY:
        raise ValueError(f"model {spec.name.value!r} is already registered")
    REGISTRY[spec.name] = spec
    return spec


def _eps_fn(model, cfg):
    if model is not None:
        return model
    return ddpm.exact_eps(mixture_of(cfg), ddpm.schedule_from(cfg.ddpm))


def _score_fn(model, cfg):
    return model.score_fn if model is not None else score.exact_score(mixture_of(cfg))


def _ddpm(model, cfg, n, g):
    x_T = torch.randn((n, 2), generator=g)
    return ddpm.p_sample_loop_progressive(_eps_fn(model, cfg), x_T, ddpm.schedule_from(cfg.ddpm), g)


def _ddim(model, cfg, n, g):
    c = cfg.ddpm
    x_T = torch.randn((n, 2), generator=g)
    return ddpm.ddim_sample_progressive(_eps_fn(model, cfg), x_T, ddpm.schedule_from(c),
                                        c.ddim_steps, c.ddim_eta, g, c.ddim_spacing)


def _langevin(model, cfg, n, g):
    c = cfg.score
    x = score.initial_noise(n, c.sigma_max, g)
    return score.langevin(_score_fn(model, cfg), x, c.langevin_sigma, c.langevin_step,
                          c.langevin_steps, g)


def _annealed(model, cfg, n, g):
    c = cfg.score
    x = score.initial_noise(n, c.sigma_max, g)
    sigmas = score.sigma_ladder(c.sigma_max, c.sigma_min, c.n_sigmas)
    return score.annealed_langevin(_score_fn(model, cfg), x, sigmas, c.step_lr,
                                   c.n_steps_each, g, c.denoise)


def _heun(model, cfg, n, g):
    z = torch.randn((n, 2), generator=g)
    return edm.heun_sample_progressive(_eps_fn(model, cfg), z, ddpm.schedule_from(cfg.ddpm),
                                        cfg.ddpm.heun_steps)


def _vae(model, cfg, n, g):
    yield vae.sample(model, n, g)


def _data(model, cfg, n, g):
    rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=g)))
    yield torch.from_numpy(mixture_of(cfg).sample(n, rng).astype(np.float32))


def _ddim_len(c):
    return len(ddpm.ddim_timesteps(c.ddpm.timesteps, c.ddpm.ddim_steps, c.ddpm.ddim_spacing))


def _annealed_len(c):
    return c.score.n_sigmas * c.score.n_steps_each + int(c.score.denoise)


# name, family, sampler, steps yielded after x_0, evaluations per sample
for _name, _fam, _sampler, _len, _nfe in [
    (ModelName.DATA, None, _data, lambda c: 0, lambda c: 0),
    (ModelName.VAE, "vae", _vae, lambda c: 0, lambda c: 1),
    (ModelName.LANGEVIN, "score", _langevin, lambda c: c.score.langevin_steps, None),
    (ModelName.ANNEALED_LANGEVIN, "score", _annealed, _annealed_len, None),
    (ModelName.DDPM, "ddpm", _ddpm, lambda c: c.ddpm.timesteps, None),
    (ModelName.DDIM, "ddpm", _ddim, _ddim_len, None),
    (ModelName.HEUN, "ddpm", _heun, lambda c: c.ddpm.heun_steps,
     lambda c: edm.n_evaluations(c.ddpm.heun_steps)),
]:
    _nfe = _nfe or _len  # one evaluation per step
    register(ModelSpec(_name, _fam, _sampler, _len, _nfe))
    if _fam in ("score", "ddpm"):
        register(ModelSpec(ModelName(f"{_name.value}-exact"), None, _sampler, _len, _nfe))


def sample_progressive(name: ModelName | str, cfg: PostConfig, n: int, seed: int,
                       progress: bool = False, model: nn.Module | None = None
                       ) -> Iterator[torch.Tensor]:
    """Every intermediate x (N, 2) of the model's sampler; draws from a generator seeded by seed.
    `model`: the trained network of the sampler's family (default: trained or cached here)."""
    steady_allocator()
    spec = REGISTRY[ModelName(name)]
    if spec.family is None:
        model = None
    elif model is None:
        model = trained(spec.family, cfg, progress).model
    g = torch.Generator().manual_seed(derive_seed(seed, spec.algorithm, "sample"))
    steps = spec.sampler(model, cfg, n, g)
    with torch_threads(SAMPLE_THREADS):
        yield from progress_steps(steps, f"sample {spec.name.value}", spec.n_steps(cfg), progress)


def sample(name: ModelName | str, cfg: PostConfig, n: int, seed: int, progress: bool = False,
           model: nn.Module | None = None) -> np.ndarray:
    """The final samples, float64 (n, 2)."""
    return ddpm.last(sample_progressive(name, cfg, n, seed, progress, model)).double().numpy()


def sample_trajectory(name: ModelName | str, cfg: PostConfig, n: int, seed: int,
                      progress: bool = False) -> np.ndarray:
    """Every step stacked: (steps + 1, n, 2)."""
    return ddpm.trajectory(sample_progressive(name, cfg, n, seed, progress)).double().numpy()
