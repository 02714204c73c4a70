"""blog.config: the post's hyperparameters, their profiles, overrides and range checks."""

from __future__ import annotations

import subprocess
import sys

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
    ("mixture.std=0.0", "mixture.std must be > 0, got 0.0"),
    ("ddpm.ema_decay=1.0", "ddpm.ema_decay must be in [0, 1), got 1.0"),
    ("ddpm.schedule='quadratic'", "ddpm.schedule must be 'linear' or 'cosine'"),
    ("ddpm.ddim_steps=5000", "ddpm.ddim_steps must be <= ddpm.timesteps"),
    ("score.sigma_min=5.0", "score.sigma_min must be < score.sigma_max"),
])
def test_out_of_range_values_name_the_key_in_one_line(override, message):
    with pytest.raises(ConfigError) as e:
        config.load(overrides=[override])
    assert message in str(e.value) and "\n" not in str(e.value)


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
