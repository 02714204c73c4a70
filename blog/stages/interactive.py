"""The data of the post's two interactive figures (assets/js/), as one JSON file the page fetches.

The browser computes the exact side itself, from the closed forms (assets/js/diffusion-maths.js
mirrors blog.mixture and blog.ddpm; tests/test_interactive.py holds them to 1e-9). What only the
build knows travels here:

    parameters   the mixture (mu_k, w, pi_k), the 3 : 1 weight pattern, the beta_t schedule's
                 config, the NCSN ladder and Langevin settings: never typed into the script
    particles    the trained DDPM's ancestral particles x_t at the animation's times t (the same
                 run as density_evo.gif), uint8 per coordinate over the plot
    eps field    the learned eps_theta(x_t, t) on a coarse grid at the same t, uint8
    discrepancy  at each t, E||eps_theta - eps*||^2 / E||eps*||^2 under q(x_t), with its
                 95 % interval (eps* = -sqrt(1 - abar_t) grad log q(x_t), the exact noise)

At t = 0 the sampler has finished: its last step is t = 1, so the field and the discrepancy of
the frame t = 0 are those of t = 1 (`field_times`).
"""

from blog.stages.common import load_model, post_config, seed_for
from figures_pipeline import stage

N_PARTICLES = 1000  # particles shipped per frame (the first of the run): ~95 KB gzipped
FIELD_GRID = 15  # eps arrows per axis
N_ERROR = 2000  # points of q(x_t) the discrepancy is averaged over, per frame
COLORMAP_ENTRIES = 64  # entries of the density colour map sent to the page
DATA_FILE = "interactive.json"


def field_times(times: list[int]) -> list[int]:
    """The paper time s >= 1 whose eps is drawn at each frame time: s itself, and 1 for s = 0."""
    return [max(s, 1) for s in times]


@stage(config=["seed", "mixture", "ddpm", "score", "post"], after=["ddpm_model", "ddpm_samples"],
       outputs={DATA_FILE: None})
def interactive_data(ctx):
    """Export the reverse process of the trained DDPM and every parameter the figures need."""

    import numpy as np
    import torch
    from matplotlib import colormaps

    from blog import ddpm
    from blog.metrics.estimate import from_influence
    from blog.mixture import from_config
    from blog.plots.density import grid
    from blog.plots.frames import GAMMA, frame_times
    from blog.plots.style import LIMITS, theme
    from blog.stages.diffusion import KDE_MIN, KDE_SCALE, abar
    from figures_pipeline.writers import encode_array, save_json

    cfg = post_config(ctx)
    schedule = ddpm.schedule_from(cfg.ddpm)
    T = schedule.T
    mixture = from_config(cfg.mixture)
    model, _ = load_model(ctx, "ddpm", ddpm.EpsNet(cfg.ddpm))
    times = frame_times(T, ctx.config["post"]["gif_frames"])
    snapshots = np.load(ctx.upstream["ddpm_samples"].artifact("ddpm_frames.npz"))
    particles = np.stack([snapshots[f"step_{T - s}"][:N_PARTICLES] for s in times])  # (F, N, 2)
    lo, hi = LIMITS

    # the learned eps on the grid, and its discrepancy from the exact eps under q(x_t)
    _, _, xy = grid(LIMITS, FIELD_GRID)
    pts = torch.tensor(xy.reshape(-1, 2), dtype=torch.float32)
    rng = np.random.default_rng(seed_for(ctx, "discrepancy"))
    fields, discrepancy = [], []
    with torch.no_grad():
        for s in field_times(times):
            t = torch.full((len(pts),), s - 1, dtype=torch.long)  # 0-based index of time s
            fields.append(model(pts, t).double().numpy().reshape(xy.shape))
            a = abar(schedule, s)
            q_t = mixture.vp(a)
            x = q_t.sample(N_ERROR, rng)  # x_t ~ q(x_t), closed form
            eps_true = -np.sqrt(1 - a) * q_t.score(x)
            eps_model = model(torch.tensor(x, dtype=torch.float32),
                              torch.full((N_ERROR,), s - 1, dtype=torch.long)).double().numpy()
            err = ((eps_model - eps_true) ** 2).sum(-1)  # ||eps_theta - eps*||^2 per point
            norm = (eps_true**2).sum(-1)
            ratio = err.mean() / norm.mean()
            # delta method for a ratio of means: psi_i = (err_i - ratio norm_i) / mean(norm)
            discrepancy.append(from_influence(ratio, (err - ratio * norm) / norm.mean()).as_dict())
    fields = np.stack(fields)  # (F, G, G, 2), indexed [frame, y, x, coordinate]
    eps_top = float(np.abs(fields).max())

    cmap = colormaps[theme().density_cmap]
    c = cfg.score
    data = {
        "limits": [float(lo), float(hi)],
        "mixture": {"means": mixture.means.tolist(), "w": float(cfg.mixture.std),
                    "weights": mixture.weights.tolist()},
        "langevin_weights": [float(v) for v in ctx.config["post"]["langevin_weights"]],
        "ddpm": {"T": T, "schedule": cfg.ddpm.schedule, "beta_start": cfg.ddpm.beta_start,
                 "beta_end": cfg.ddpm.beta_end, "ddim_steps": cfg.ddpm.ddim_steps,
                 "ddim_spacing": cfg.ddpm.ddim_spacing},
        "score": {"sigma_max": c.sigma_max, "sigma_min": c.sigma_min, "n_sigmas": c.n_sigmas,
                  "step_lr": c.step_lr, "n_steps_each": c.n_steps_each, "denoise": c.denoise,
                  "langevin_sigma": c.langevin_sigma, "langevin_step": c.langevin_step,
                  "langevin_steps": c.langevin_steps},
        "density": {"kde_min": KDE_MIN, "kde_scale": KDE_SCALE, "gamma": GAMMA,
                    "colormap": [_hex(cmap(u)) for u in np.linspace(0, 1, COLORMAP_ENTRIES)]},
        "reverse": {"t": times, "field_t": field_times(times), "field_grid": FIELD_GRID,
                    "particles": encode_array(particles, lo, hi, "uint8"),
                    "eps": encode_array(fields, -eps_top, eps_top, "uint8"),
                    "discrepancy": discrepancy},
    }
    save_json(data, ctx.output(DATA_FILE))
    return {"frames": len(times), "particles": int(particles.shape[1]),
            "field_grid": FIELD_GRID}


def _hex(rgba) -> str:
    return "#" + "".join(f"{round(255 * v):02x}" for v in rgba[:3])
