"""The ledger entry: saved as ``proofs_check/claims/<topic>.py`` it reads ``register(Claim(...))``."""

from examples.add_a_claim import numeric_side as num
from examples.add_a_claim import theory_side as th
from proofs_check.ledger import Claim, Estimand, Kind, NegativeControl, Param, Provenance
from theory.symbols import d_k

CLAIM = Claim(
    id="basics.keys.norm_fourth_moment",
    statement="A Gaussian key k ~ N(0, I_{d_k}) has E||k||^4 = d_k (d_k + 2), the signal energy of Eq. (7).",
    anchor="§3.2, Eq. (7) (the signal term E c^2 with c = ||k_i||^2); suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="E||k||^4",
        distributions="k ~ N(0, I_{d_k})",
        conditioning="none; one key per trial, the trial is the unit of the SE",
    ),
    params=(Param("d_k", 1, 1024, description="key dimension"),),
    derivation=th.key_norm_fourth_moment,
    symbol=r"\mathbb{E}\|k\|^4",
    measure=num.measure_key_norm_fourth_moment,
    trials={"quick": 2000, "default": 8000, "full": 16000},
    grids={
        "quick": ({"d_k": 4}, {"d_k": 16}),
        # per-trial relative variance (d_k + 4)(d_k + 6)/(d_k (d_k + 2)) - 1: at d_k = 4 the 2 % target
        # needs more trials than the cap (64 batches), so the default grid starts at d_k = 8
        "default": ({"d_k": 8}, {"d_k": 16}, {"d_k": 64}),
        "full": ({"d_k": 8}, {"d_k": 64}, {"d_k": 128}),
    },
    negative_controls=(
        NegativeControl("d_k_plus_1", "d_k (d_k + 1): E z^4 taken as 2 instead of 3",
                        prediction=lambda: d_k * (d_k + 1), near_miss=True),
        NegativeControl("square_of_mean", "d_k^2: (E||k||^2)^2, the variance of ||k||^2 forgotten",
                        prediction=lambda: d_k**2),
        NegativeControl("one_coordinate_short", "keys drawn with d_k - 1 coordinates",
                        variant="one_coordinate_short"),
    ),
    strategy={"d_k": (2, 64)},
)
