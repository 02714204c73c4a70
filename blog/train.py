"""The training loop every model shares: Adam on fresh minibatches of exact mixture samples.

Infinite data: each step draws `batch_size` new x_0 ~ p from the closed-form mixture with a NumPy
generator, and the loss draws its own noise from a torch.Generator, both seeded from the config
seed. Warm-up then cosine learning-rate decay; an exponential moving average of the weights
(Polyak averaging, as DDPM samples with; Ho et al. 2020, appendix B) is what is returned.
Training runs on one thread whatever the caller set: the result never depends on it. It stops at
the first non-finite loss (TrainingDiverged, naming the step and the value): no NaN weights are
ever returned or cached.
"""

from __future__ import annotations

import copy
import ctypes
import functools
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from blog.config import PostConfig, TrainConfig, derive_seed
from blog.mixture import GaussianMixture, from_config
from blog.nets import init_seeded, n_params
from blog.optim import Adam, flatten_, unflatten_

# loss(model, x_0, generator) -> scalar tensor
LossFn = Callable[[nn.Module, torch.Tensor, torch.Generator], torch.Tensor]
TRAIN_THREADS = 1  # measured: one thread is as fast for these sizes, and never varies


@dataclass(frozen=True)
class Family:
    """A trainable model family, declared by its own module (vae.FAMILY, score.FAMILY, ...)."""

    name: str
    modules: tuple[str, ...]  # blog modules whose source reaches the weights-cache key
    config: Callable[[PostConfig], TrainConfig]  # the family's hyperparameters
    build: Callable[[PostConfig], nn.Module]  # an untrained network
    loss: Callable[[PostConfig], LossFn]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite: training stops there, names the step and the value."""


@dataclass
class History:
    """What training returns besides the weights: one loss per step and the wall time."""

    losses: list[float]
    seconds: float

    @property
    def final_loss(self) -> float:
        """Mean of the last 5 % of steps (a single step's loss is noise)."""
        tail = self.losses[-max(1, len(self.losses) // 20):]
        return float(np.mean(tail))


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@functools.cache
def steady_allocator() -> bool:
    """Fix glibc malloc's thresholds for this process (once; False where there is no mallopt).

    By default glibc serves a block above M_MMAP_THRESHOLD (128 KiB at start) with a fresh mmap
    and unmaps it on free, and raises the threshold only when such a block is freed: whether a
    sampler's (2000, 128) activations (1 MiB) are recycled or page-faulted anew at every step
    depends on what the process happened to allocate before. Measured: 470 page faults and ~1 ms
    of system time per network call in one process, none in another. Fixed at 32 MiB (glibc's
    largest dynamic value), with freed memory kept up to 128 MiB, every such block is reused."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
    return bool(mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(M_TRIM_THRESHOLD, 128 << 20))


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to cfg.lr, then cosine decay to cfg.lr * cfg.lr_final."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * frac)))


def fit(model: nn.Module, loss_fn: LossFn, data: GaussianMixture, cfg: TrainConfig, seed: int,
        name: str = "model", progress: bool = False) -> tuple[nn.Module, History]:
    """Train `model` in place; return (the EMA copy, or the model when ema_decay = 0; History)."""
    steady_allocator()
    rng = np.random.default_rng(derive_seed(seed, name, "data"))
    gen = torch.Generator().manual_seed(derive_seed(seed, name, "noise"))
    ema = copy.deepcopy(model).requires_grad_(False) if cfg.ema_decay > 0 else None
    opt = Adam(model.parameters())  # the parameters become views into one vector, opt.theta
    ema_theta = flatten_(ema.parameters()) if ema is not None else None
    losses: list[float] = []
    bar = ProgressBar(f"train {name}", cfg.steps) if progress else None
    start = time.perf_counter()
    with torch_threads(TRAIN_THREADS):
        for step in range(cfg.steps):
            x_0 = torch.from_numpy(data.sample(cfg.batch_size, rng).astype(np.float32))
            loss = loss_fn(model, x_0, gen)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(f"training {name}: the loss is {value} at step {step} of "
                                       f"{cfg.steps}; nothing was saved (is {name}.lr = "
                                       f"{cfg.lr:g} too large?)")
            opt.zero_grad()
            loss.backward()
            opt.step(lr_at(step, cfg))
            if ema_theta is not None:
                # warm-started decay: min(decay, (1 + step) / (10 + step))
                d = min(cfg.ema_decay, (1 + step) / (10 + step))
                ema_theta.lerp_(opt.theta, 1 - d)
            losses.append(value)
            if bar:
                bar.update(step + 1, f"loss {losses[-1]:.4f}")
    if bar:
        bar.close()
    for net in (model, ema):
        if net is not None:  # own storage again: a saved state_dict holds only its tensors
            unflatten_(net.parameters())
            for p in net.parameters():
                p.grad = None
    return (ema if ema is not None else model).eval(), History(losses, time.perf_counter() - start)


class ProgressBar:
    """Progress on stderr: an in-place bar redrawn at most 10 times a second on a terminal, a
    plain line every 10 % otherwise (a log, a build running stages in parallel)."""

    def __init__(self, label: str, total: int, stream=None):
        self.label, self.total, self.stream = label, max(total, 1), stream or sys.stderr
        self.start = self.last = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.tenth = 0

    def update(self, done: int, note: str = "") -> None:
        now = time.perf_counter()
        if not self.tty:
            tenth = 10 * done // self.total
            if tenth > self.tenth:
                self.tenth = tenth
                self.stream.write(f"{self.label}: {10 * tenth}% ({done}/{self.total}, "
                                  f"{now - self.start:.1f} s) {note}".rstrip() + "\n")
                self.stream.flush()
            return
        if now - self.last < 0.1 and done < self.total:
            return
        self.last = now
        width = 24
        fill = int(width * done / self.total)
        self.stream.write(f"\r{self.label} [{'#' * fill}{'.' * (width - fill)}] "
                          f"{done}/{self.total} {now - self.start:5.1f}s {note}\033[K")
        self.stream.flush()

    def close(self) -> None:
        self.update(self.total)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def progress_steps(steps: Iterator, label: str, total: int, progress: bool) -> Iterator:
    """Wrap a sampler's generator with a progress bar (or pass it through)."""
    if not progress or total < 1:
        yield from steps
        return
    bar = ProgressBar(label, total)
    for i, x in enumerate(steps):
        bar.update(min(i, total))
        yield x
    bar.close()


def train_family(family: Family, cfg: PostConfig, progress: bool = False
                 ) -> tuple[nn.Module, dict]:
    """Train `family` from its seeded initialisation: (the model, requires_grad off; its metadata:
    config, mixture, seed, profile, steps, final loss, training seconds, loss history, params)."""
    name, fam_cfg = family.name, family.config(cfg)
    model = init_seeded(lambda: family.build(cfg), derive_seed(cfg.seed, name, "init"))
    model, hist = fit(model, family.loss(cfg), from_config(cfg.mixture), fam_cfg, cfg.seed, name,
                      progress)
    meta = {"family": name, "config": asdict(fam_cfg), "mixture": asdict(cfg.mixture),
            "seed": cfg.seed, "profile": cfg.profile, "steps": len(hist.losses),
            "final_loss": hist.final_loss, "train_seconds": hist.seconds,
            "history": hist.losses, "params": n_params(model)}
    return model.requires_grad_(False), meta
