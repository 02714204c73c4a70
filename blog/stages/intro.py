"""The introduction's figures: inverse transform sampling, learned; the 8-mode mixture."""

from blog.stages.common import post_config, save_looks, seed_for, with_looks
from figures_pipeline import Figure, stage

N_QUANTILE = 1000  # samples the quantile network is fitted to
N_SHOWN = 4000  # mixture samples drawn over the density


@stage(config=["seed"], outputs=with_looks({"inverse_cdf.png": Figure(
    alt="Uniform samples u mapped through the Gaussian inverse CDF become Gaussian samples x; "
        "a small network fitted to sorted samples matches the inverse CDF, and the histogram "
        "of what it outputs for the uniform samples follows the normal density.",
    claims=("inverse_cdf.max_error < 0.25",),
    caption="Inverse transform sampling: u ~ U[0, 1] through the Gaussian inverse CDF gives "
            "x ~ N(0, 1). A network f fitted to sorted samples learns the same map; the "
            "histogram (right) is of its outputs f(u), over the N(0, 1) density.")}))
def inverse_cdf(ctx):
    """Learn Phi^{-1} from N_QUANTILE Gaussian samples and draw it beside the exact map."""
    import numpy as np
    import torch

    from blog.plots.intro import inverse_cdf as draw
    from blog.plots.intro import norm_ppf
    from blog.quantile import evaluate_quantile_net, fit_quantile_net

    rng = np.random.default_rng(seed_for(ctx, "data"))
    torch.set_num_threads(1)
    net = fit_quantile_net(rng.standard_normal(N_QUANTILE), seed_for(ctx, "init"))
    u_grid = np.linspace(0.005, 0.995, 400)
    learned = evaluate_quantile_net(net, u_grid)
    u = np.random.default_rng(seed_for(ctx, "u")).uniform(size=N_QUANTILE)
    x = evaluate_quantile_net(net, u)  # what the network samples
    save_looks(ctx, "inverse_cdf.png", lambda: draw(u, learned=(u_grid, learned), x_samples=x))
    inner = (u_grid >= 0.025) & (u_grid <= 0.975)
    error = np.abs(learned - norm_ppf(u_grid))
    return {"n": N_QUANTILE, "max_error": float(error[inner].max()),
            "max_tail_error": float(error[~inner].max())}


@stage(config=["seed", "mixture"], outputs=with_looks({"mixture.png": Figure(
    alt="Eight tight Gaussian modes evenly spaced on a circle of radius two, shown as a density "
        "heat map and as samples over density contours.",
    caption="The data: the density of the 8-mode mixture (left) and samples from it over its "
            "log-density contours (right).")}))
def mixture_figure(ctx):
    """Samples of the mixture over its exact density."""
    import numpy as np

    from blog.mixture import from_config
    from blog.plots.plane import mixture_samples

    mixture = from_config(post_config(ctx).mixture)
    x = mixture.sample(N_SHOWN, np.random.default_rng(seed_for(ctx, "samples")))
    save_looks(ctx, "mixture.png", lambda: mixture_samples(mixture, x))
    return {"n": N_SHOWN}
