"""Section ``basics``: the linear associative memory, Eq. (1) and Eq. (4) of the paper."""

from __future__ import annotations

from numerics import linear_memory as num
from proofs_check.ledger import (Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance,
                                 register)
from theory import linear_memory as th
from theory.symbols import N, d_k


def _pairs_params(n_high=4096):
    return (
        Param("N", 1, n_high, description="number of stored pairs"),
        Param("d_k", 1, 1024, description="key dimension"),
        Param("d_v", 1, 1024, description="value dimension"),
    )


_GAUSSIAN_PAIRS = "k_i ~ N(0, I_{d_k}), v_i ~ N(0, I_{d_v}) i.i.d.; queries N(0, I_{d_k})"

MEMORY_CAPS = dict(N=(1, 96), d_k=(1, 24), d_v=(1, 24))
register(Claim(
    id="basics.linear.memory_accumulation",
    statement="The memory S_t = S_{t-1} + v_t k_t^T accumulates S = sum_i v_i k_i^T, and retrieval S q "
              "equals sum_i v_i (k_i^T q).",
    anchor="§2, Eq. (1) (notes §3.1, from reviews S4-S6)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max relative difference between S_N q (memory from the Eq. (1) loop) and sum_i v_i k_i^T q",
        distributions=_GAUSSIAN_PAIRS,
        conditioning="one random instance per point; exact in exact arithmetic",
    ),
    params=_pairs_params(),
    derivation=th.memory_accumulation,
    prediction=lambda: 0,
    symbol=r"\max |S_N q - \textstyle\sum_i v_i k_i^\top q|",
    measure=num.measure_memory_accumulation,
    grids={
        "quick": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 64, "d_k": 16, "d_v": 8}),
        "default": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 64, "d_k": 16, "d_v": 8}, {"N": 256, "d_k": 64, "d_v": 32}),
        "full": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 256, "d_k": 64, "d_v": 32}, {"N": 2048, "d_k": 256, "d_v": 64}),
    },
    negative_controls=(
        NegativeControl("overwrite", "memory overwritten instead of accumulated: S_t = v_t k_t^T",
                        variant="overwrite", applies_when=Constraint("N >= 2", lambda p: p["N"] >= 2)),
    ),
    atol=1e-10,
    strategy=MEMORY_CAPS,
))

CROSSTALK_CAPS = dict(N=(1, 96), d_k=(1, 24), d_v=(1, 24))
register(Claim(
    id="basics.linear.crosstalk_decomposition",
    statement="Querying a stored key splits into signal and crosstalk: "
              "S k_i = v_i ||k_i||^2 + sum_{j != i} v_j (k_j^T k_i).",
    anchor="§3, Eq. (4) (notes §4.1, from reviews S4, S5)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max over i of the relative difference between S k_i and signal + noise",
        distributions=_GAUSSIAN_PAIRS,
        conditioning="one random instance per point; exact in exact arithmetic",
    ),
    params=_pairs_params(),
    derivation=th.crosstalk_decomposition,
    prediction=lambda: 0,
    symbol=r"\max_i |S k_i - v_i\|k_i\|^2 - \textstyle\sum_{j\neq i} v_j k_j^\top k_i|",
    measure=num.measure_crosstalk_decomposition,
    grids={
        "quick": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 64, "d_k": 16, "d_v": 8}),
        "default": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 64, "d_k": 16, "d_v": 8}, {"N": 512, "d_k": 64, "d_v": 32}),
        "full": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 512, "d_k": 64, "d_v": 32}, {"N": 2048, "d_k": 256, "d_v": 64}),
    },
    negative_controls=(
        NegativeControl("unit_signal", "signal taken as v_i (unit-norm keys assumed for Gaussian keys)",
                        variant="unit_signal"),
    ),
    atol=1e-10,
    strategy=CROSSTALK_CAPS,
))

ORTHO_CAPS = dict(N=(1, 48), d_k=(1, 48), d_v=(1, 16))
register(Claim(
    id="basics.linear.orthonormal_noise_free",
    statement="With N <= d_k orthonormal keys every stored value is retrieved exactly: S k_i = v_i.",
    anchor="§3, after Eq. (4) (notes §4.1, from reviews S4, S5)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max over i of ||S k_i - v_i|| / ||v_i||",
        distributions="keys: N random orthonormal vectors (QR of a Gaussian matrix); values N(0, I_{d_v})",
        conditioning="one random instance per point; exact in exact arithmetic",
    ),
    params=_pairs_params(n_high=1024),
    constraints=(Constraint("N <= d_k", lambda p: p["N"] <= p["d_k"]),),
    derivation=th.orthonormal_retrieval,
    prediction=lambda: 0,
    symbol=r"\max_i \|S k_i - v_i\| / \|v_i\|",
    measure=num.measure_orthonormal_retrieval,
    grids={
        "quick": ({"N": 4, "d_k": 4, "d_v": 3}, {"N": 16, "d_k": 32, "d_v": 8}),
        "default": ({"N": 4, "d_k": 4, "d_v": 3}, {"N": 16, "d_k": 32, "d_v": 8}, {"N": 64, "d_k": 64, "d_v": 16}),
        "full": ({"N": 4, "d_k": 4, "d_v": 3}, {"N": 64, "d_k": 64, "d_v": 16}, {"N": 512, "d_k": 512, "d_v": 32}),
    },
    negative_controls=(
        NegativeControl("scaled_keys", "orthogonal but not normalised keys (norm 2)", variant="scaled_keys"),
        NegativeControl("extra_key", "one more random unit key than the orthonormal set", variant="extra_key"),
    ),
    atol=1e-10,
    strategy=ORTHO_CAPS,
))

FLOOR_CAPS = dict(N=(2, 80), d_k=(1, 16))
register(Claim(
    id="basics.linear.overcomplete_noise_floor",
    statement="With N > d_k unit keys and orthonormal values the total retrieval noise is at least "
              "N (N - d_k) / d_k > 0, attained by unit-norm tight frames: beyond d_k pairs noise-free "
              "storage is impossible.",
    anchor="§3 (after Eq. 4); bound: suite",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="min over key sets of sum_i ||S k_i - ||k_i||^2 v_i||^2 with v_j = e_j",
        distributions="unit keys: random (Gaussian rows normalised) and a real harmonic tight frame",
        conditioning="the minimum over the sets tried; the tight frame attains the floor",
        notes="An inequality made checkable as an identity: the minimum found must equal the floor "
              "(a random set below it, or a tight frame above it, both fail).",
    ),
    params=(Param("N", 2, 2048, description="number of stored pairs"),
            Param("d_k", 1, 512, description="key dimension")),
    constraints=(Constraint("N > d_k", lambda p: p["N"] > p["d_k"]),),
    derivation=th.noise_floor,
    symbol=r"\min_K \textstyle\sum_i \|r_i\|^2",
    measure=num.measure_noise_floor,
    trials={"quick": 16, "default": 64, "full": 128},
    grids={
        "quick": ({"N": 6, "d_k": 4}, {"N": 40, "d_k": 16}),
        "default": ({"N": 6, "d_k": 4}, {"N": 40, "d_k": 16}, {"N": 128, "d_k": 33}),
        "full": ({"N": 6, "d_k": 4}, {"N": 128, "d_k": 33}, {"N": 512, "d_k": 64}),
    },
    negative_controls=(
        NegativeControl("noise_free", "noise-free storage beyond d_k (floor 0)", prediction=lambda: 0 * N),
        NegativeControl("missing_factor", "floor N - d_k (the factor N / d_k dropped)", prediction=lambda: N - d_k),
    ),
    atol=1e-9,
    rtol=1e-9,
    strategy=FLOOR_CAPS,
))
