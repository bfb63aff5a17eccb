"""Numeric side: ``E||k||^4`` for ``k ~ N(0, I_{d_k})`` by Monte Carlo, one key per trial."""

import numpy as np

from numerics.estimate import check_variant, mean_of, monte_carlo

VARIANTS = ("one_coordinate_short",)


@monte_carlo(mean_of("norm4", "mean over independent keys k ~ N(0, I_{d_k}) of ||k||^4"))
def measure_key_norm_fourth_moment(rng: np.random.Generator, *, d_k: int, trials: int,
                                   variant: str | None = None) -> dict:
    """Per trial ``||k||^4`` of one fresh key ``k ~ N(0, I_{d_k})``: column ``norm4``, shape ``(trials,)``.

    Draws a ``(trials, d_k)`` matrix (8 trials d_k bytes). Variant ``"one_coordinate_short"`` draws
    ``d_k - 1`` coordinates (an off-by-one in the key's shape), whose mean is ``(d_k - 1)(d_k + 1)``.
    """
    check_variant(variant, VARIANTS)
    width = d_k - 1 if variant == "one_coordinate_short" else d_k
    keys = rng.standard_normal((trials, width))
    return {"norm4": np.einsum("ij,ij->i", keys, keys) ** 2}
