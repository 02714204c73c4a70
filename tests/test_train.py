"""blog.train: the loop every model shares stops at the first non-finite loss, naming the step and
the value, and saves nothing; the learning-rate schedule; the progress bar's plain lines."""

from __future__ import annotations

import io
import math

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from blog.cli import cli
from blog.config import TrainConfig
from blog.mixture import ring
from blog.train import ProgressBar, TrainingDiverged, fit, lr_at, steady_allocator

CFG = TrainConfig(steps=10, batch_size=8, warmup=2, ema_decay=0.9)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_training_stops_at_the_first_non_finite_loss_and_names_step_and_value(bad):
    seen = []

    def loss_fn(model, x_0, generator):
        seen.append(len(seen))
        loss = (model(x_0) ** 2).mean()
        return loss * bad if len(seen) == 4 else loss  # the 4th step: index 3

    model = nn.Linear(2, 2)
    before = model.weight.detach().clone()
    with pytest.raises(TrainingDiverged, match=rf"loss is {bad} at step 3 of 10") as err:
        fit(model, loss_fn, ring(), CFG, seed=0, name="toy")
    assert "toy.lr" in str(err.value) and len(str(err.value).splitlines()) == 1
    assert seen == [0, 1, 2, 3]  # no step after it
    assert torch.all(torch.isfinite(model.weight)) and not torch.equal(model.weight, before)


def test_a_finite_run_returns_the_ema_and_one_loss_per_step():
    model, history = fit(nn.Linear(2, 2), lambda m, x, g: (m(x) ** 2).mean(), ring(), CFG, 0)
    assert len(history.losses) == CFG.steps and all(map(math.isfinite, history.losses))
    assert not model.training


def test_a_diverging_loss_is_a_one_line_cli_error_and_caches_nothing(tmp_path, monkeypatch):
    """Validation refuses absurd learning rates (blog.config), so a loss that turns NaN at its
    third step stands in for a run that diverges within the allowed ranges."""
    from blog import ddpm

    monkeypatch.setenv("BLOG_CACHE_DIR", str(tmp_path / "cache"))
    real, calls = ddpm.loss, []

    def nan_at_step_2(*args, **kwargs):
        calls.append(1)
        value = real(*args, **kwargs)
        return value * float("nan") if len(calls) == 3 else value

    monkeypatch.setattr(ddpm, "loss", nan_at_step_2)
    result = CliRunner().invoke(cli, ["train", "ddpm", "--profile", "fast", "--set",
                                      "ddpm.timesteps=10", "--set", "ddpm.ddim_steps=5"])
    assert result.exit_code == 2
    line, = result.output.strip().splitlines()
    assert line.startswith("Error: training ddpm: the loss is nan at step 2")
    assert "ddpm.lr = " in line
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_learning_rate_warms_up_linearly_then_decays_to_its_final_fraction():
    cfg = TrainConfig(steps=1000, lr=1e-3, warmup=100, lr_final=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-5) and lr_at(99, cfg) == pytest.approx(1e-3)
    assert lr_at(100, cfg) == pytest.approx(1e-3) and lr_at(1000, cfg) == pytest.approx(1e-4)
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(100, 1000))


def test_off_a_terminal_progress_is_a_line_every_tenth():
    out = io.StringIO()
    bar = ProgressBar("train toy", 50, stream=out)
    for i in range(1, 51):
        bar.update(i)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[0].startswith("train toy: 10% (5/50")


def test_with_the_steady_allocator_a_sampler_sized_block_is_reused_not_faulted_anew():
    """1 MiB blocks allocated and freed in turn (a sampler's activations) cost no page faults
    once the thresholds are fixed; without mallopt (not glibc) there is nothing to check."""
    import subprocess
    import sys

    code = ("import resource, torch\n"
            "from blog.train import steady_allocator\n"
            "assert steady_allocator() and steady_allocator()\n"
            "a = torch.empty(1 << 18); del a\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "for _ in range(200):\n"
            "    a = torch.ones(1 << 18); del a\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")
    if not steady_allocator():
        pytest.skip("no mallopt here")
    # the child measures its own faults: a fresh process, a known history
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    # a few first touches of the heap, not one fresh 1 MiB mmap (256 faults) per block
    assert int(out.stdout) < 10 * 256
