"""Range checks of the toy config."""

from figures_pipeline.config import ConfigError


def validate(values):
    if values["points"]["n"] < 1:
        raise ConfigError(f"points.n must be >= 1, got {values['points']['n']}")
