"""The score section's figures: learned against exact score fields, Langevin trajectories, and
plain against annealed Langevin samples."""

from blog.stages.common import load_family, post_config, save_figure, seed_for
from figures_pipeline import Figure, stage

FIELD_SIGMAS = (1.0, 0.3, 0.1)  # the ladder levels nearest to these are drawn
FIELD_GRID = 21  # arrows per axis
N_ERROR = 4000  # points of q_sigma the score error is averaged over
N_PATHS = 12  # annealed Langevin trajectories drawn


@stage(config=["seed", "mixture", "score"], after=["score_model"], outputs={
    "score_fields.png": Figure(
        alt="Two rows of vector fields at three noise levels: the learned score (top) and the "
            "exact score of the noised mixture (bottom) both point toward the modes; at large "
            "noise toward the centre of the ring.",
        caption="The learned score s(x, sigma) (top) against the exact score of the noised "
                "mixture (bottom) at three noise levels, over the noised density.")})
def score_fields(ctx):
    """s_theta(x, sigma) and grad log q_sigma(x) on a grid, and the learned score's error."""
    import numpy as np
    import torch

    from blog import score
    from blog.mixture import ring
    from blog.plots.density import grid
    from blog.plots.plane import score_fields as draw

    cfg = post_config(ctx)
    model, _ = load_family(ctx, "score")
    mixture = ring(cfg.mixture.k, cfg.mixture.radius, cfg.mixture.std)
    ladder = score.sigma_ladder(cfg.score.sigma_max, cfg.score.sigma_min, cfg.score.n_sigmas)
    sigmas = [float(ladder[int(np.argmin(np.abs(np.log(ladder.numpy() / s))))])
              for s in FIELD_SIGMAS]
    exact_fn = score.exact_score(mixture)
    _, _, xy = grid(n=FIELD_GRID)
    pts = torch.tensor(xy.reshape(-1, 2), dtype=torch.float32)
    rng = np.random.default_rng(seed_for(ctx, "error"))
    learned, exact, errors = [], [], []
    with torch.no_grad():
        for s in sigmas:
            learned.append(model.score_fn(pts, s).double().numpy().reshape(xy.shape))
            exact.append(exact_fn(pts.double(), s).numpy().reshape(xy.shape))
            # relative error E||s_theta - s||^2 / E||s||^2 under q_sigma itself
            x = torch.tensor(mixture.ve(s).sample(N_ERROR, rng), dtype=torch.float32)
            s_true = exact_fn(x.double(), s)
            diff = model.score_fn(x, s).double() - s_true
            errors.append(float((diff**2).sum(-1).mean() / (s_true**2).sum(-1).mean()))
    save_figure(ctx, "score_fields.png", draw(xy, learned, exact, sigmas, mixture=mixture))
    return {"sigmas": sigmas, "relative_errors": errors}


@stage(config=["seed", "mixture", "score"], after=["score_model", "score_samples"], outputs={
    "langevin_trajectories.png": Figure(
        alt="Paths of annealed Langevin dynamics starting from broad noise and ending on the "
            "eight modes, coloured by the mode they reach.",
        caption="Annealed Langevin dynamics with the learned score: a few chains from noise to "
                "the modes, drawn at the end of each noise level."),
    "langevin_comparison.png": Figure(
        alt="Four panels of samples: plain Langevin with the exact and with the learned score "
            "leaves some modes crowded and others sparse; annealed Langevin with either score "
            "fills all eight modes evenly.",
        caption="Plain Langevin (one noise level) against annealed Langevin, each with the exact "
                "and with the learned score; under each panel, the largest deviation of a "
                "mode's share from 1/K.")})
def langevin_figures(ctx):
    """Trajectories of annealed Langevin, and the four Langevin samplers side by side."""
    import numpy as np
    import torch

    from blog import score
    from blog.mixture import ring
    from blog.plots.plane import langevin_trajectories, samples_comparison

    cfg = post_config(ctx)
    c = cfg.score
    model, _ = load_family(ctx, "score")
    mixture = ring(cfg.mixture.k, cfg.mixture.radius, cfg.mixture.std)
    g = torch.Generator().manual_seed(seed_for(ctx, "paths"))
    x = score.initial_noise(N_PATHS, c.sigma_max, g)
    sigmas = score.sigma_ladder(c.sigma_max, c.sigma_min, c.n_sigmas)
    steps = list(score.annealed_langevin(model.score_fn, x, sigmas, c.step_lr, c.n_steps_each,
                                         g, c.denoise))
    # one point per noise level (its last Langevin step): within a level the chain jitters on
    # the scale of sigma_i, across levels it drifts from the broad blob to a mode
    per_level = [steps[i * c.n_steps_each] for i in range(c.n_sigmas + 1)] + steps[-1:]
    paths = torch.stack(per_level).double().numpy()
    save_figure(ctx, "langevin_trajectories.png", langevin_trajectories(
        paths, mixture, n_show=N_PATHS, title=f"{N_PATHS} annealed Langevin paths, "
                                              f"one point per noise level"))
    samples = np.load(ctx.upstream["score_samples"].artifact("score.npz"))
    values = ctx.upstream["score_samples"].values
    panels = {
        "plain Langevin, exact score": "langevin_exact",
        "plain Langevin, learned score": "langevin",
        "annealed Langevin, exact score": "annealed_langevin_exact",
        "annealed Langevin, learned score": "annealed_langevin",
    }
    fig = samples_comparison(
        {title: samples[key] for title, key in panels.items()}, mixture,
        annotations={title: f"max share deviation {100 * values[key]['max_share_dev']:.0f} %"
                     for title, key in panels.items()}, ncols=2)
    save_figure(ctx, "langevin_comparison.png", fig)
    return {"paths": N_PATHS}
