"""figures_pipeline.config: profiles, --set overrides, schema checks, the validate hook."""

import pytest
from pipeline_toy.harness import make_files

from figures_pipeline.config import (
    ConfigError,
    flatten,
    key_line,
    load_config,
    parse_override,
)

TOML = """
seed = 0
name = "post"
[ddpm]
steps = 4000
lr = 2e-3
ema = true
[profiles.fast.ddpm]
steps = 300
"""


@pytest.fixture
def path(tmp_path):
    make_files(tmp_path, {"post.toml": TOML})
    return tmp_path / "post.toml"


def test_default_and_profile(path):
    assert load_config(path).values["ddpm"]["steps"] == 4000
    fast = load_config(path, "fast")
    assert fast.values["ddpm"] == {"steps": 300, "lr": 2e-3, "ema": True}
    assert not fast.is_published and load_config(path).is_published
    assert fast.select(["ddpm.steps", "seed"]) == {"ddpm.steps": 300, "seed": 0}


def test_overrides_are_typed(path):
    cfg = load_config(path, overrides=["ddpm.steps=10", "ddpm.lr=1", "name=other"])
    assert cfg.values["ddpm"]["steps"] == 10 and cfg.values["ddpm"]["lr"] == 1.0
    assert cfg.values["name"] == "other"
    assert parse_override("a.b = [1, 2]") == ("a.b", [1, 2])


@pytest.mark.parametrize("profile, overrides, message", [
    ("default", ["ddpm.step=3"], "unknown key 'ddpm.step' (did you mean 'ddpm.steps'?)"),
    ("default", ["ddpm.steps=3.5"], "'ddpm.steps' must be int, got 3.5"),
    ("default", ["ddpm.ema=1"], "'ddpm.ema' must be bool"),
    ("default", ["seed"], "expected key=value"),
    ("slow", [], "unknown profile 'slow' (choose from: default, fast)"),
])
def test_refusals(path, profile, overrides, message):
    with pytest.raises(ConfigError) as e:
        load_config(path, profile, overrides)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_validate_hook_and_bad_files(path, tmp_path):
    def validate(values):
        if values["ddpm"]["steps"] < 1:
            raise ConfigError("ddpm.steps must be >= 1")

    with pytest.raises(ConfigError, match="post.toml: ddpm.steps must be >= 1"):
        load_config(path, overrides=["ddpm.steps=0"], validate=validate)
    make_files(tmp_path, {"bad.toml": "x = "})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.toml")
    assert flatten({"a": {"b": 1}, "c": 2}) == {"a.b": 1, "c": 2}


def test_key_line_finds_a_key_under_its_table_header():
    assert key_line(TOML, "seed") == 2
    assert key_line(TOML, "ddpm.steps") == 5
    assert key_line(TOML, "profiles.fast.ddpm.steps") == 9
    assert key_line(TOML, "ddpm.nope") is None


def _steps_at_least_one(values):
    if values["ddpm"]["steps"] < 1:
        raise ConfigError("ddpm.steps must be >= 1", key="ddpm.steps")


@pytest.mark.parametrize("profile, overrides, where", [
    ("default", ["ddpm.steps=0"], "--set ddpm.steps=0: "),
    ("fast", [], "post.toml:9: "),
])
def test_a_validate_error_naming_its_key_says_where_the_value_was_set(path, profile, overrides,
                                                                      where):
    if not overrides:
        path.write_text(TOML.replace("steps = 300", "steps = 0"))
    with pytest.raises(ConfigError) as e:
        load_config(path, profile, overrides, validate=_steps_at_least_one)
    assert str(e.value).endswith(where + "ddpm.steps must be >= 1")


def test_a_value_of_the_file_itself_is_located_by_line(path):
    path.write_text(TOML.replace("steps = 4000", "steps = -4"))
    with pytest.raises(ConfigError, match=r"post.toml:5: ddpm.steps must be >= 1$"):
        load_config(path, validate=_steps_at_least_one)


def test_a_validate_hook_that_crashes_on_a_wrong_type_is_one_line(path):
    path.write_text(TOML.replace("steps = 4000", 'steps = "many"'))
    with pytest.raises(ConfigError) as e:
        load_config(path, validate=_steps_at_least_one)
    assert "the range checks (_steps_at_least_one) failed on its values: TypeError" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_config_without_a_fast_profile_builds_its_defaults_as_the_draft(tmp_path):
    make_files(tmp_path, {"quick.toml": "seed = 0\n[walk]\nn = 5\n"})
    fast = load_config(tmp_path / "quick.toml", "fast")
    assert fast.values == {"seed": 0, "walk": {"n": 5}} and not fast.is_published
    with pytest.raises(ConfigError, match=r"unknown profile 'slow' \(choose from: default, fast\)"):
        load_config(tmp_path / "quick.toml", "slow")
