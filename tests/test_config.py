"""blog.config: the post's hyperparameters, their profiles, overrides and range checks."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

from blog import config
from figures_pipeline.config import ConfigError, load_config


def test_default_profile_reads_every_table():
    cfg = config.load()
    assert cfg.seed == 0 and cfg.profile == "default"
    assert (cfg.mixture.k, cfg.mixture.radius, cfg.mixture.std) == (8, 2.0, 0.1)
    assert cfg.vae.latent_dim == 2
    assert cfg.ddpm.ddim_steps <= 50 < cfg.ddpm.timesteps


def test_fast_profile_trains_less():
    fast, default = config.load("fast"), config.load()
    for table in ("vae", "score", "ddpm"):
        assert getattr(fast, table).steps < getattr(default, table).steps


def test_overrides_apply_and_are_typed():
    cfg = config.load(overrides=["ddpm.steps=7", "score.lr=1e-3", "seed=5"])
    assert (cfg.ddpm.steps, cfg.score.lr, cfg.seed) == (7, 1e-3, 5)
    with pytest.raises(ConfigError, match="'ddpm.steps' must be int"):
        config.load(overrides=["ddpm.steps=1.5"])
    with pytest.raises(ConfigError, match="did you mean 'ddpm.steps'"):
        config.load(overrides=["ddpm.stepz=3"])


@pytest.mark.parametrize("override, message", [
    ("ddpm.steps=0", "ddpm.steps must be >= 1, got 0"),
    ("mixture.std=0.0", "mixture.std must be in (0, 1000], got 0.0"),
    ("ddpm.lr=1e4", "ddpm.lr must be in (0, 1], got 10000.0"),
    ("ddpm.lr=inf", "ddpm.lr must be a finite number, got inf"),
    ("score.step_lr=nan", "score.step_lr must be a finite number, got nan"),
    ("vae.beta=-inf", "vae.beta must be a finite number, got -inf"),
    ("post.langevin_weights=[1.0, nan]", "post.langevin_weights[1] must be a finite number"),
    ("ddpm.ema_decay=1.0", "ddpm.ema_decay must be in [0, 1), got 1.0"),
    ("ddpm.schedule='quadratic'", "ddpm.schedule must be 'linear' or 'cosine'"),
    ("ddpm.ddim_steps=5000", "ddpm.ddim_steps must be <= ddpm.timesteps"),
    ("score.sigma_min=5.0", "score.sigma_min must be < score.sigma_max"),
])
def test_out_of_range_values_name_the_key_in_one_line(override, message):
    with pytest.raises(ConfigError) as e:
        config.load(overrides=[override])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_an_override_error_names_the_override():
    with pytest.raises(ConfigError, match=r"^--set ddpm.lr=1e4: ddpm.lr must be in \(0, 1\]"):
        config.load(overrides=["ddpm.lr=1e4"])


@pytest.mark.parametrize("table, cls", [("mixture", config.MixtureConfig),
                                        ("vae", config.VAEConfig), ("score", config.ScoreConfig),
                                        ("ddpm", config.DDPMConfig)])
def test_every_dataclass_field_refuses_a_value_of_the_wrong_type(table, cls):
    """The types come from the dataclasses: a field anyone adds is checked without a rule."""
    values = load_config(config.POST_TOML).values
    for f in fields(cls):
        bad = dict(values, **{table: {**values[table], f.name: [f.name]}})
        with pytest.raises(ConfigError, match=f"^{table}.{f.name} must be ") as e:
            config.validate(bad)
        assert e.value.key == f"{table}.{f.name}"


@pytest.mark.parametrize("line, message", [
    ('k = "eight"', "mixture.k must be an integer, got 'eight'"),
    ("k = 8.0", "mixture.k must be an integer, got 8.0"),
    ("k = true", "mixture.k must be an integer, got True"),
    ("k = nan", "mixture.k must be an integer, got nan"),
    ("k = 0", "mixture.k must be >= 1, got 0"),
])
def test_a_bad_value_in_the_toml_is_one_line_naming_file_and_line(tmp_path, line, message):
    text = config.POST_TOML.read_text()
    path = tmp_path / "post.toml"
    path.write_text(text.replace("k = 8 ", f"{line} ", 1))
    lineno = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if t.startswith(line))
    with pytest.raises(ConfigError) as e:
        config.load(path=path)
    assert str(e.value) == f"{path}:{lineno}: {message}"


def test_a_wrong_type_in_the_toml_exits_2_with_one_line(tmp_path):
    """Through the engine's CLI, in a copy of the project (check imports no torch)."""
    from post_helpers import copy_project, pipeline

    root = copy_project(tmp_path / "project")
    toml = root / "blog/post.toml"
    toml.write_text(toml.read_text().replace("k = 8 ", 'k = "eight" ', 1))
    res = pipeline(root, "check", timeout=120)
    assert res.returncode == 2
    assert res.stderr.startswith("error: blog/post.toml:") and res.stderr.count("\n") == 1
    assert "mixture.k must be an integer, got 'eight'" in res.stderr


def test_every_field_has_a_value_in_the_toml():
    """from_dict refuses missing or unknown keys: a dataclass field cannot drift from the TOML."""
    values = load_config(config.POST_TOML).values
    del values["ddpm"]["steps"]
    with pytest.raises(ConfigError, match="missing"):
        config.PostConfig.from_dict(values)


def test_derive_seed_is_stable_and_separates_purposes():
    assert config.derive_seed(0, "ddpm", "train") == config.derive_seed(0, "ddpm", "train")
    assert config.derive_seed(0, "ddpm", "train") != config.derive_seed(1, "ddpm", "train")
    assert config.derive_seed(0, "ddpm", "train") != config.derive_seed(0, "score", "train")
    assert 0 <= config.derive_seed(3, "x") < 2**63


def test_config_module_imports_neither_torch_nor_numpy():
    code = "import sys, blog.config; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
