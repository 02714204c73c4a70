"""A generic, cached, incremental and deterministic build of a post's figures and generated
Markdown sections. Author's guide: figures_pipeline/README.md.

Public API (a stage module imports only this; it is cheap: no torch, no matplotlib):

    from figures_pipeline import Figure, stage

    @stage(config=["seed"], outputs={"plot.svg": Figure(alt="...", caption="...")})
    def plot(ctx):
        ctx.output("plot.svg").write_text(...)
        return {"mean": 0.5}
"""

__version__ = "0.4.0"  # the engine's own version (pyproject.toml reads it)

from .config import Config, ConfigError, load_config
from .context import Context, Upstream
from .stages import DeclarationError, Figure, stage

__all__ = ["Config", "ConfigError", "Context", "DeclarationError", "Figure", "Upstream",
           "load_config", "stage"]
