"""The diffusion sections' figures: DDPM.png, the forward process, density_evo.gif, and
stochastic against deterministic reverse trajectories.

Time indices: blog.ddpm stores per-step coefficients 0-based, so `alphas_cumprod[s - 1]` is the
paper's abar_s; x_0 (s = 0) is the data, abar_0 = 1.
"""

from blog.stages.common import (
    load_model,
    post_config,
    save_animation,
    save_looks,
    seed_for,
    with_looks,
)
from figures_pipeline import Figure, stage

N_FORWARD = 3000  # points pushed through the forward process
EARLY_ABAR = 0.9  # a snapshot where abar_t first falls to this (beside t = 0, T, blog.fusion's)
FRAME_MS = 120  # display time of a frame
KDE_MIN, KDE_SCALE = 0.07, 0.5  # kernel width h_s = max(KDE_MIN, KDE_SCALE sqrt(1 - abar_s))
HOLD_FRAMES = 3  # the last frame is held (slightly different time label each)
N_PATHS = 16  # DDIM trajectories drawn (and the paths whose ends are counted)
N_PATHS_DDPM = 4  # DDPM trajectories drawn: the first of the same N_PATHS starts
FLOOR_BATCHES = 400  # minibatches the loss's least mean is averaged over


def abar(schedule, s: int) -> float:
    """abar_s for paper time s = 0..T."""
    return 1.0 if s == 0 else float(schedule.alphas_cumprod[s - 1])


def first_time_below(schedule, target: float) -> int:
    """The first s whose abar_s <= target (T if none)."""
    for s in range(schedule.T + 1):
        if abar(schedule, s) <= target:
            return s
    return schedule.T


@stage(config=["mixture", "ddpm"], outputs=with_looks({"DDPM.png": Figure(
    alt="Diagram: a VAE maps x to a latent z and back; a diffusion model maps x_0 through a chain "
        "of noisier latents x_1 ... x_T with a fixed forward process q and a learned reverse "
        "process p_theta, each node drawn as its density.",
    caption="A VAE (top) learns both directions between the data and one latent. A diffusion "
            "model (bottom) fixes the encoder to the noising chain q and learns only the "
            "reverse steps p_theta.")}))
def ddpm_diagram(ctx):
    """The VAE beside the diffusion chain, with the noised mixture's density at each node."""
    from blog import ddpm
    from blog.mixture import from_config
    from blog.plots.diagram import diagram_ddpm

    cfg = post_config(ctx)
    schedule = ddpm.schedule_from(cfg.ddpm)
    T = schedule.T
    t = first_time_below(schedule, 0.5)
    abars = (1.0, abar(schedule, 1), abar(schedule, t - 1), abar(schedule, t), abar(schedule, T))
    save_looks(ctx, "DDPM.png", lambda: diagram_ddpm(from_config(cfg.mixture), alpha_bars=abars))
    return {"t": t}


@stage(config=["seed", "mixture", "ddpm"], outputs=with_looks({"forward.png": Figure(
    alt="Five panels of the forward process: the eight modes shrink toward the origin and widen, "
        "fuse into a ring at the third panel, the ring fills into one blob at the fourth, and the "
        "points end as a single standard normal blob; exact density contours match.",
    caption="The forward process q(x_t | x_0) on the mixture, with the exact density of "
            "q(x_t) as contours. The third and fourth panels are the thresholds of the text, in "
            "closed form: where neighbouring modes fuse into a ring, and where the ring fills "
            "into one blob.")}))
def forward_process(ctx):
    """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps at a few t, over the exact q(x_t): at t = 0,
    where abar_t first falls to EARLY_ABAR, at the two fusion thresholds (blog.fusion) and
    at t = T."""
    import numpy as np

    from blog import ddpm
    from blog.fusion import fusion
    from blog.mixture import from_config
    from blog.plots.plane import forward_snapshots

    cfg = post_config(ctx)
    schedule = ddpm.schedule_from(cfg.ddpm)
    mixture = from_config(cfg.mixture)
    m = cfg.mixture
    thresholds = fusion(m.k, m.radius, m.std)
    # the first t at or past each threshold
    marks = {first_time_below(schedule, th.abar): name for name, th in thresholds.items()}
    times = sorted({0, first_time_below(schedule, EARLY_ABAR), *marks, schedule.T})
    rng = np.random.default_rng(seed_for(ctx, "x0"))
    x0 = mixture.sample(N_FORWARD, rng)
    eps = rng.standard_normal(x0.shape)
    words = {"ring": "modes fuse", "blob": "ring fills"}
    samples, exact, titles = [], [], []
    for s in times:
        a = abar(schedule, s)
        samples.append(np.sqrt(a) * x0 + np.sqrt(1 - a) * eps)
        exact.append(mixture.vp(a))
        title = f"$t = {s}$\n" + r"$\bar\alpha_t = $" + f"{a:.2f}"
        titles.append(title + (f"\n{words[marks[s]]}" if s in marks else ""))
    save_looks(ctx, "forward.png", lambda: forward_snapshots(samples, exact, titles))
    fused = {name: {"c": th.c, "abar": th.abar, "sigma": th.sigma,
                    "t": first_time_below(schedule, th.abar)} for name, th in thresholds.items()}
    return {"times": times, "T": schedule.T, "beta_1": float(schedule.betas[0]),
            "beta_T": float(schedule.betas[-1]), "half_signal_t": first_time_below(schedule, 0.5),
            "fusion": fused}


@stage(config=["mixture", "ddpm", "post"], after=["ddpm_samples"], outputs=with_looks({
    "density_evo.gif": Figure(
        alt="Animation: a density heat map starts as one broad Gaussian blob and splits into "
            "eight sharp modes on a circle as the trained reverse process runs; beside it the "
            "exact density of the noised mixture at the same step does the same.",
        claims=("ddpm_samples.ddpm.off_mode.hi < 0.05", "ddpm_samples.ddpm.width_ratio.hi < 1.3"),
        caption="The trained DDPM's reverse process as a density (left), from noise at t = T to "
                "the data at t = 0, beside the exact density of q(x_t) at the same step "
                "(right); both smoothed by the same Gaussian kernel.")}))
def density_evolution(ctx):
    """A frame: the KDE of the ancestral sampler's particles at time s beside q(x_s)."""
    import numpy as np

    from blog import ddpm
    from blog.mixture import from_config
    from blog.plots.density import density_from_samples, grid, mixture_density
    from blog.plots.frames import density_frames, frame_times

    cfg = post_config(ctx)
    schedule = ddpm.schedule_from(cfg.ddpm)
    T = schedule.T
    mixture = from_config(cfg.mixture)
    snapshots = np.load(ctx.upstream["ddpm_samples"].artifact("ddpm_frames.npz"))
    g2d = grid()
    times = frame_times(T, ctx.config["post"]["gif_frames"])
    # both panels are smoothed by the same Gaussian kernel N(0, h_s^2 I): a KDE of the particles
    # on the left, and in closed form q(x_s) * N(0, h_s^2 I) = mixture.vp(abar_s).ve(h_s) on the
    # right; h_s grows with the noise, where the density is broad and particles sparse
    widths = [max(KDE_MIN, KDE_SCALE * np.sqrt(1 - abar(schedule, s))) for s in times]
    model_d = [density_from_samples(snapshots[f"step_{T - s}"].astype(np.float64), g2d, h)
               for s, h in zip(times, widths, strict=True)]
    exact_d = [mixture_density(mixture.vp(abar(schedule, s)).ve(h), g2d)
               for s, h in zip(times, widths, strict=True)]
    def frames():  # in the current look; the last frame held
        drawn = density_frames(model_d, exact_d, times, T)
        return drawn + [drawn[-1]] * HOLD_FRAMES

    save_animation(ctx, "density_evo.gif", frames, duration_ms=FRAME_MS)
    return {"frames": len(times), "particles": int(len(snapshots[f"step_{T}"]))}


@stage(config=["seed", "mixture", "ddpm"], after=["ddpm_model"], outputs=with_looks({
    "reverse.png": Figure(
        alt="Two panels of reverse trajectories from the same starting points: four DDPM paths "
            "jitter randomly, sixteen DDIM paths are smooth curves that bend sharply near their "
            "end; most paths of both end on a mode.",
        claims=("reverse_trajectories.ddpm_ends_off_mode * 4 <= reverse_trajectories.paths",
                "reverse_trajectories.ddim_ends_off_mode * 4 <= reverse_trajectories.paths"),
        caption="The same starting noise x_T run through the ancestral DDPM sampler "
                "(stochastic, T steps; the first few paths) and through DDIM (deterministic, "
                "S steps)."),
    "ddpm_training.png": Figure(
        alt="The diffusion model's noise-prediction loss falling over training steps (a "
            "logarithmic step axis) toward a dashed line: the same loss computed with the exact "
            "posterior mean of the noise.",
        caption="The diffusion network's training curve: its noise-prediction loss per "
                "minibatch (smoothed), and its least possible mean, the same loss with the "
                "exact E[eps | x_t] of the mixture (dashed).")}))
def reverse_trajectories(ctx):
    """DDPM against DDIM from one x_T, with the trained network; and its training curve
    against the least mean its loss can reach (blog.bounds)."""
    import numpy as np
    import torch

    from blog import ddpm
    from blog.bounds import ExactEps, final_loss, loss_floor
    from blog.mixture import from_config
    from blog.plots.plane import reverse_trajectories as draw
    from blog.plots.vae import training_curve

    cfg = post_config(ctx)
    model, meta = load_model(ctx, "ddpm", ddpm.EpsNet(cfg.ddpm))
    schedule = ddpm.schedule_from(cfg.ddpm)
    g = torch.Generator().manual_seed(seed_for(ctx, "x_T"))
    x_T = torch.randn((N_PATHS, 2), generator=g)
    c = cfg.ddpm
    stochastic = ddpm.trajectory(ddpm.p_sample_loop_progressive(model, x_T, schedule, g))
    deterministic = ddpm.trajectory(ddpm.ddim_sample_progressive(
        model, x_T, schedule, c.ddim_steps, 0.0, g, c.ddim_spacing))
    titles = (f"DDPM, {N_PATHS_DDPM} paths,\n{schedule.T:,} steps",
              f"DDIM, {N_PATHS} paths,\n{len(deterministic) - 1:,} steps")
    save_looks(ctx, "reverse.png", lambda: draw(
        stochastic.double().numpy(), deterministic.double().numpy(), from_config(cfg.mixture),
        n_show=(N_PATHS_DDPM, N_PATHS), titles=titles))
    mixture = from_config(cfg.mixture)
    exact = ExactEps(mixture, lambda t: ddpm.alphas_at(schedule, t))
    floor = loss_floor(ddpm.FAMILY.loss(cfg), exact, mixture, c.batch_size, FLOOR_BATCHES,
                       seed_for(ctx, "floor"))
    name = r"$\ell_{\mathrm{simple}}$" if c.prediction == "eps" else "weighted loss (EDM)"
    history = {name: np.asarray(meta["history"])}
    save_looks(ctx, "ddpm_training.png", lambda: training_curve(
        history, "loss", floor=(floor["value"], "exact $\\epsilon$: its least mean"),
        logy=bool(min(history[name].min(), floor["value"]) > 0)))
    return {"loss_floor": floor, "final_loss": final_loss(meta["history"]),
            "paths": N_PATHS, "ddpm_paths_drawn": N_PATHS_DDPM,
            "ddim_steps": len(deterministic) - 1,
            "ddpm_ends_off_mode": off_mode_count(stochastic[-1].double().numpy(), mixture),
            "ddim_ends_off_mode": off_mode_count(deterministic[-1].double().numpy(), mixture)}


def off_mode_count(x, mixture) -> int:
    """How many points of x (N, 2) lie farther than 3w from every centre (blog.metrics)."""
    from blog.metrics import within

    return int((~within(x, mixture)).sum())
