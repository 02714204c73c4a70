"""Deterministic pseudo-random points (no numpy: fast to import)."""

import random


def make_points(n, seed, scale, offsets):
    rng = random.Random(seed)
    return [[round(scale * rng.gauss(0, 1) + dx, 6), round(scale * rng.gauss(0, 1) + dy, 6)]
            for _, (dx, dy) in zip(range(n), offsets * n, strict=False)]
