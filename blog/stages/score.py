"""The score section's figures: learned against exact score fields, Langevin trajectories, and
plain against annealed Langevin samples."""

from blog.stages.common import load_model, post_config, save_looks, seed_for, with_looks
from figures_pipeline import Figure, stage

FIELD_SIGMAS = (1.0, 0.3, 0.1)  # the ladder levels nearest to these are drawn
FIELD_GRID = 21  # arrows per axis
MAP_GRID = 120  # points per axis of the score error map
FLOOR_BATCHES = 400  # minibatches the loss's least mean is averaged over
N_ERROR = 4000  # points of q_sigma the score error is averaged over
N_PATHS = 16  # Langevin trajectories drawn
N_CHAINS = 2000  # chains whose end is compared with the mode nearest their start
START_BOX = 2.8  # their starting points are uniform in [-START_BOX, START_BOX]^2


@stage(config=["seed", "mixture", "score"], after=["score_model"], outputs=with_looks({
    "score_fields.png": Figure(
        alt="Two rows of vector fields at four noise levels, down to the smallest: the learned "
            "score (top) and the exact score of the noised mixture (bottom) agree where the "
            "density is; at the smallest levels the arrows point into the nearest mode, at the "
            "largest the noised density is still a ring and the arrows point toward it from "
            "inside and outside.",
        caption="The learned score (top) against the exact score of the noised mixture q_sigma "
                "(bottom) at four noise levels of the ladder, down to the smallest, over q_sigma "
                "itself. The arrows show sigma times the score, which is of order one at every "
                "level, with their length capped so that directions stay visible near the modes, "
                "where the score is largest.",
        claims=("score_fields.relative_errors | max < 0.05",
                "score_fields.centre_over_ring[0] < 1")),
    "score_error.png": Figure(
        alt="Heat maps of the learned score's relative error over the plane at the two smallest "
            "noise levels shown, with contours of the noised density on top: the error is small "
            "on the modes, where the training data lies, and largest on the lines between "
            "neighbouring modes and at the centre, where there is no data.",
        caption="Where the learned score can be trusted: its error relative to the exact score, "
                "point by point over the plane (log colour scale), at two small noise levels, "
                "with contours of q_sigma. The network only ever saw noised data near the modes; "
                "its relative error is largest where there is none, on the boundaries between the "
                "modes' basins and at the centre, where the exact score is small and turns.",
        claims=("score_fields.pointwise_errors[0].off_data > "
                "2 * score_fields.pointwise_errors[0].on_data",)),
    "score_training.png": Figure(
        alt="The denoising score matching loss falling over training steps (a logarithmic "
            "step axis) toward a dashed line: the same loss computed with the exact score.",
        caption="The score network's training curve: the sigma^2-weighted denoising score "
                "matching loss per minibatch (smoothed), and its least possible mean, the same "
                "loss with the exact score of q_sigma (dashed).")}))
def score_fields(ctx):
    """s_theta(x, sigma) and grad log q_sigma(x) on a grid at the ladder levels nearest to
    FIELD_SIGMAS and at sigma_L, and the learned score's error: under q_sigma, and as a map."""
    import numpy as np
    import torch

    from blog import score
    from blog.bounds import ExactScore, final_loss, loss_floor
    from blog.mixture import from_config
    from blog.plots.density import grid
    from blog.plots.plane import score_error_maps
    from blog.plots.plane import score_fields as draw
    from blog.plots.vae import training_curve

    cfg = post_config(ctx)
    model, meta = load_model(ctx, "score", score.ScoreNet(cfg.score))
    mixture = from_config(cfg.mixture)
    ladder = score.sigma_ladder(cfg.score.sigma_max, cfg.score.sigma_min, cfg.score.n_sigmas)
    nearest = [float(ladder[int(np.argmin(np.abs(np.log(ladder.numpy() / s))))])
               for s in FIELD_SIGMAS]
    sigmas = list(dict.fromkeys([*nearest, float(ladder[-1])]))  # and sigma_L, once
    exact_fn = score.exact_score(mixture)
    _, _, xy = grid(n=FIELD_GRID)
    pts = torch.tensor(xy.reshape(-1, 2), dtype=torch.float32)
    rng = np.random.default_rng(seed_for(ctx, "error"))
    learned, exact, errors, centre_over_ring = [], [], [], []
    with torch.no_grad():
        for s in sigmas:
            learned.append(model.score_fn(pts, s).double().numpy().reshape(xy.shape))
            exact.append(exact_fn(pts.double(), s).numpy().reshape(xy.shape))
            # relative error E||s_theta - s||^2 / E||s||^2 under q_sigma itself
            x = torch.tensor(mixture.ve(s).sample(N_ERROR, rng), dtype=torch.float32)
            s_true = exact_fn(x.double(), s)
            diff = model.score_fn(x, s).double() - s_true
            errors.append(float((diff**2).sum(-1).mean() / (s_true**2).sum(-1).mean()))
            # is q_sigma still a ring? its density at the origin against at a centre mu_1
            q = mixture.ve(s)
            centre_over_ring.append(float(q.prob(np.zeros((1, 2)))[0]
                                          / q.prob(mixture.means[:1])[0]))
        # at large sigma the noised data covers the whole plot: "away from the data" only
        # exists at the smaller levels (the smallest of FIELD_SIGMAS, and sigma_L)
        error_sigmas = [nearest[-1], float(ladder[-1])]
        pointwise = [off_data_error(model, exact_fn, mixture, s, rng) for s in error_sigmas]
        _, _, xy_map = grid(n=MAP_GRID)
        maps = [error_map(model, exact_fn, xy_map, s) for s in error_sigmas]
    save_looks(ctx, "score_fields.png", lambda: draw(xy, learned, exact, sigmas, mixture=mixture))
    save_looks(ctx, "score_error.png", lambda: score_error_maps(
        xy_map, maps, [mixture.ve(s) for s in error_sigmas], error_sigmas))
    floor = loss_floor(score.FAMILY.loss(cfg), ExactScore(mixture), mixture,
                       cfg.score.batch_size, FLOOR_BATCHES, seed_for(ctx, "floor"))
    history = {r"$\ell_{\mathrm{DSM}}$": np.asarray(meta["history"])}
    save_looks(ctx, "score_training.png", lambda: training_curve(
        history, "loss", floor=(floor["value"], "exact score: its least mean"),
        logy=bool(min(history[r"$\ell_{\mathrm{DSM}}$"].min(), floor["value"]) > 0)))
    return {"sigmas": sigmas, "relative_errors": errors, "centre_over_ring": centre_over_ring,
            "error_sigmas": error_sigmas, "pointwise_errors": pointwise,
            "loss_floor": floor, "final_loss": final_loss(meta["history"])}


def error_map(model, exact_fn, xy, sigma: float):
    """|s_theta(x, sigma) - grad log q_sigma(x)| / |grad log q_sigma(x)| on the grid xy
    (G, G, 2), as a (G, G) array indexed [y, x]."""
    import torch

    t = torch.tensor(xy.reshape(-1, 2), dtype=torch.float32)
    s_true = exact_fn(t.double(), sigma)
    err = (model.score_fn(t, sigma).double() - s_true).norm(dim=-1) / s_true.norm(dim=-1)
    return err.numpy().reshape(xy.shape[:2])


def off_data_error(model, exact_fn, mixture, sigma: float, rng) -> dict:
    """The learned score's pointwise relative error |s_theta - s| / |s| where the noised data
    lives (samples of q_sigma) and where it does not (uniform points of the plot farther than
    three standard deviations sqrt(s^2 + sigma^2) from every centre): medians of each."""
    import numpy as np
    import torch

    def median_error(x: np.ndarray) -> float:
        t = torch.tensor(x, dtype=torch.float32)
        s_true = exact_fn(t.double(), sigma)
        err = (model.score_fn(t, sigma).double() - s_true).norm(dim=-1) / s_true.norm(dim=-1)
        return float(err.median())

    spread = float(np.sqrt(mixture.stds.max() ** 2 + sigma**2))
    box = rng.uniform(-START_BOX, START_BOX, (4 * N_ERROR, 2))
    far = np.linalg.norm(box[:, None] - mixture.means[None], axis=-1).min(1) > 3 * spread
    return {"on_data": median_error(mixture.ve(sigma).sample(N_ERROR, rng)),
            "off_data": median_error(box[far][:N_ERROR]), "n_off": int(min(far.sum(), N_ERROR))}


@stage(config=["seed", "mixture", "score", "post"], after=["score_model"], outputs=with_looks({
    "langevin_trajectories.png": Figure(
        alt="Paths of Langevin dynamics with the learned score, from random starting points to "
            "the eight modes, coloured by the mode they reach.",
        caption="Plain Langevin dynamics with the learned score at the smallest noise level: "
                "nearly every chain runs to the mode nearest to where it started.",
        claims=("langevin_figures.chains_to_nearest_mode.lo > 0.9",)),
    "langevin_weights.png": Figure(
        alt="Three panels on a ring whose modes alternate between heavy and light: exact "
            "samples, plain Langevin samples that fill every mode about equally, and annealed "
            "Langevin samples whose heavy modes come close to their true share.",
        caption="Mode weights. A ring whose modes alternate between heavy and light (left), "
                "sampled with its exact score by plain Langevin dynamics (middle) and by "
                "annealed Langevin dynamics (right); under each panel, the heavy modes' share.",
        claims=("langevin_figures.heavy_plain.hi < langevin_figures.heavy_target - 0.1",
                "langevin_figures.heavy_annealed.lo > langevin_figures.heavy_plain.hi"))},
    wide_only=("langevin_trajectories.png",)))
def langevin_figures(ctx):
    """Trajectories of plain Langevin with the learned score, and the mode-weight
    demonstration: plain against annealed Langevin, both with the exact score of a ring
    with unequal weights (post.langevin_weights)."""
    from collections import deque

    import numpy as np
    import torch

    from blog import score
    from blog.metrics import nearest_mode, wilson
    from blog.mixture import from_config
    from blog.plots.plane import langevin_trajectories, samples_comparison

    cfg = post_config(ctx)
    c = cfg.score
    model, _ = load_model(ctx, "score", score.ScoreNet(cfg.score))
    mixture = from_config(cfg.mixture)
    sigmas = score.sigma_ladder(c.sigma_max, c.sigma_min, c.n_sigmas)
    # plain Langevin chains with the learned score at the smallest noise level, started at
    # random points of the plot: each follows the score to the mode nearest its start
    g = torch.Generator().manual_seed(seed_for(ctx, "paths"))
    starts = (torch.rand((N_PATHS, 2), generator=g) * 2 - 1) * START_BOX
    paths = torch.stack(list(score.langevin(model.score_fn, starts, c.langevin_sigma,
                                            c.langevin_step, c.langevin_steps, g)))
    save_looks(ctx, "langevin_trajectories.png", lambda: langevin_trajectories(
        paths.double().numpy(), mixture, n_show=N_PATHS,
        title=f"{N_PATHS} Langevin chains, learned score"))
    # the caption's claim, measured on many more chains than are drawn
    starts = (torch.rand((N_CHAINS, 2), generator=g) * 2 - 1) * START_BOX
    ends = deque(score.langevin(model.score_fn, starts, c.langevin_sigma, c.langevin_step,
                                c.langevin_steps, g), maxlen=1)[0]
    same_mode = nearest_mode(ends.double().numpy(), mixture)[0] == \
        nearest_mode(starts.double().numpy(), mixture)[0]

    pattern = ctx.config["post"]["langevin_weights"]
    weights = np.resize(np.asarray(pattern, dtype=np.float64), cfg.mixture.k)
    weighted = from_config(cfg.mixture, weights)
    heavy = weights == weights.max()
    exact_fn = score.exact_score(weighted)
    n = ctx.config["post"]["samples"]
    g = torch.Generator().manual_seed(seed_for(ctx, "weights"))
    plain = score.langevin(exact_fn, score.initial_noise(n, c.sigma_max, g), c.langevin_sigma,
                           c.langevin_step, c.langevin_steps, g)
    annealed = score.annealed_langevin(exact_fn, score.initial_noise(n, c.sigma_max, g), sigmas,
                                       c.step_lr, c.n_steps_each, g, c.denoise)
    panels = {
        "exact samples": weighted.sample(n, np.random.default_rng(seed_for(ctx, "exact"))),
        "plain Langevin": deque(plain, maxlen=1)[0].double().numpy(),  # the last step
        "annealed Langevin": deque(annealed, maxlen=1)[0].double().numpy(),
    }
    shares = {t: float(heavy[nearest_mode(x, weighted)[0]].mean()) for t, x in panels.items()}
    target = float(weighted.weights[heavy].sum())
    notes = {t: f"heavy modes: {100 * v:.0f} %\n(target {100 * target:.0f} %)"
             for t, v in shares.items()}
    save_looks(ctx, "langevin_weights.png",
               lambda: samples_comparison(panels, weighted, annotations=notes, ncols=3))
    heavy_share = {t: wilson(int(heavy[nearest_mode(x, weighted)[0]].sum()), len(x)).as_dict()
                   for t, x in panels.items()}
    return {"paths": N_PATHS,
            "chains_to_nearest_mode": wilson(int(same_mode.sum()), N_CHAINS).as_dict(),
            "heavy_target": target, "heavy_exact": heavy_share["exact samples"],
            "heavy_plain": heavy_share["plain Langevin"],
            "heavy_annealed": heavy_share["annealed Langevin"],
            "pattern": [float(w) for w in pattern]}
