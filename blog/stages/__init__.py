"""The post's build stages, declared for figures_pipeline (figures.toml: stages = "blog.stages").

The engine imports every module of this package; each declares the stages of one part of the
post. Importing them must stay cheap (no torch, NumPy or matplotlib at module level): `make check`
and the no-op `make figures` do it. Stage bodies import what they need, and the engine tracks
those imports statically, so a stage depends only on the code it really reaches.

    models.py     train the three families (weights are cache artifacts)
    sampling.py   sample every model and its exact-score reference; the metrics
    intro.py      the inverse-CDF example and the mixture
    vae.py        the VAE's latent space, samples and training curve
    diffusion.py  DDPM.png, the forward process, density_evo.gif, reverse trajectories
    score.py      score fields and Langevin samplers
    results.py    the grid of every model's samples and the results table
    interactive.py  the data of the interactive figures (particles, eps field, parameters)
    spread.py     the seed spread: the per-seed record `make bench` writes (blog/data/)
"""
