"""The post's figures: pure functions from NumPy arrays and mixtures to matplotlib Figures.

No torch, no pyplot, no randomness: the same arrays give the same pixels. Save with
figures_pipeline.writers (save_figure, save_gif). Import from the submodules (density, diagram,
frames, intro, plane, style, vae): this package re-exports nothing, so a build stage depends only
on the plotting code it really uses.
"""
