"""blog.cli: the commands the figures engine calls, and their one-line errors (exit code 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from blog.cli import MODEL_NAMES, cli
from blog.models import ModelName

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("BLOG_CACHE_DIR", str(tmp_path / "cache"))
    return CliRunner()


def test_every_command_has_help(runner):
    for command in ["", "sample", "train", "metrics"]:
        result = runner.invoke(cli, [*command.split(), "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_cli_model_names_are_the_registry(runner):
    assert sorted(MODEL_NAMES) == sorted(m.value for m in ModelName)


def test_sample_writes_an_n_by_2_array(runner, tmp_path):
    out = tmp_path / "x.npy"
    result = runner.invoke(cli, ["sample", "data", "-n", "17", "--seed", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    x = np.load(out)
    assert x.shape == (17, 2) and x.dtype == np.float64
    runner.invoke(cli, ["sample", "data", "-n", "17", "--seed", "3", "-o", str(tmp_path / "y.npy")])
    assert np.array_equal(x, np.load(tmp_path / "y.npy"))


def test_sample_trains_with_overrides(runner, tmp_path):
    out = tmp_path / "x.npy"
    args = ["sample", "ddim", "-n", "5", "-o", str(out), "--profile", "fast",
            "--set", "ddpm.steps=20", "--set", "ddpm.timesteps=10", "--set", "ddpm.ddim_steps=4"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert np.load(out).shape == (5, 2)


@pytest.mark.parametrize("family, sampler", [("score", "annealed-langevin"), ("ddpm", "heun")])
def test_train_takes_a_family_name_and_sampling_then_uses_its_cached_weights(runner, tmp_path,
                                                                             family, sampler):
    small = ["--profile", "fast", "--set", "score.steps=20", "--set", "score.n_steps_each=3",
             "--set", "ddpm.steps=20", "--set", "ddpm.timesteps=10", "--set", "ddpm.ddim_steps=4",
             "--set", "ddpm.heun_steps=3"]
    result = runner.invoke(cli, ["train", family, *small])
    assert result.exit_code == 0 and f"{family}: 20 steps" in result.output, result.output
    assert "(trained)" in result.output
    out = tmp_path / "x.npy"
    result = runner.invoke(cli, ["sample", sampler, "-n", "6", "--seed", "1", "-o", str(out),
                                 *small])
    assert result.exit_code == 0 and np.load(out).shape == (6, 2)
    assert "train" not in result.output  # the weights came from the cache


@pytest.mark.parametrize("args, needle", [
    (["sample", "gan", "-o", "x.npy"], "'gan' is not one of 'data', 'vae'"),
    (["sample", "ddpm", "-n", "many", "-o", "x.npy"], "'many' is not a valid integer"),
    (["sample", "ddpm", "-n", "0", "-o", "x.npy"], "-n"),
    (["sample", "ddpm", "-o", "/no/such/folder/x.npy"], "does not exist"),
    (["sample", "ddpm", "-o", "x.npy", "--set", "ddpm.steps=0"], "ddpm.steps must be >= 1"),
    (["sample", "ddpm", "-o", "x.npy", "--set", "ddpm.stepz=1"], "did you mean 'ddpm.steps'"),
    (["sample", "ddpm", "-o", "x.npy", "--profile", "slow"], "'slow' is not one of"),
    (["train", "data"], "is not one of"),
    (["sample", "heun", "-o", "x.npy", "--set", "ddpm.prediction=x0"],
     "ddpm.prediction must be 'eps' or 'edm', got 'x0'"),
    (["sample", "heun-exact", "-o", "x.npy", "--set", "ddpm.heun_steps=1"],
     "ddpm.heun_steps must be >= 2"),
    (["metrics", "ddpm", "--seed", "-1"], "--seed"),
    (["metrics", "data", "-n", "3"], "-n"),
])
def test_errors_are_one_line_and_exit_2(runner, args, needle):
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and needle in lines[0], lines
    assert "Traceback" not in result.output


def test_unwritable_output_is_refused(runner, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        result = runner.invoke(cli, ["sample", "data", "-o", str(locked / "x.npy")])
        assert result.exit_code == 2 and "not writable" in result.output
    finally:
        locked.chmod(0o700)
    result = runner.invoke(cli, ["sample", "data", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "is a directory" in result.output


def test_metrics_prints_a_table_or_json(runner):
    import json

    result = runner.invoke(cli, ["metrics", "data", "-n", "2000"])
    assert result.exit_code == 0 and result.output.splitlines()[2].startswith("data")
    assert "MMD² ×10⁻⁴" in result.output and "[" in result.output.splitlines()[2]
    result = runner.invoke(cli, ["metrics", "data", "-n", "2000", "--json"])
    report = json.loads(result.output)
    assert report["model"] == "data" and report["n"] == 2000
    assert set(report["off_mode"]) == {"value", "lo", "hi", "n", "se"}


def test_python_dash_m_blog_errors_in_a_subprocess(tmp_path):
    env = {**os.environ, "BLOG_CACHE_DIR": str(tmp_path)}
    bad = subprocess.run([sys.executable, "-m", "blog", "sample", "gan", "-n", "3", "-o",
                          str(tmp_path / "x.npy")], cwd=REPO, capture_output=True, text=True,
                         env=env)
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "ddim-exact" in bad.stderr
    ok = subprocess.run([sys.executable, "-m", "blog", "sample", "data", "-n", "3", "--seed", "1",
                         "-o", str(tmp_path / "x.npy")], cwd=REPO, capture_output=True, text=True,
                        env=env)
    assert ok.returncode == 0 and np.load(tmp_path / "x.npy").shape == (3, 2)
