"""Multi-head memories: the tilted exp estimator against plain sampling, the single-head reduction, bad input."""

import math

import numpy as np
import pytest

from numerics import multihead as num
from proofs_check.ledger import evaluate
from theory import multihead as th

_POINT = dict(N=9, H=2, d_head=3, dv_head=2, key_norm2=4.0, value_norm2=3.0, kernel="exp", tau=2.0)


def test_tilted_blocks_agree_with_plain_sampling(monkeypatch):
    """At a mild point (log-variance 2 per block) the partially tilted and the plain estimators agree."""
    tilted = num.measure_multihead_inverse_snr(np.random.default_rng(1), trials=40000, **_POINT)
    monkeypatch.setattr(num, "LOG_VAR_CAP", 1e9)  # no tilt
    plain = num.measure_multihead_inverse_snr(np.random.default_rng(2), trials=200000, **_POINT)
    assert plain.ess is not None and tilted.ess > 1000
    assert abs(tilted.estimate - plain.estimate) < 5 * math.hypot(tilted.standard_error, plain.standard_error)


def test_tilted_estimate_is_a_simulation_not_the_closed_form():
    """A tilt of 1 would make every weighted term the closed form (SE about 1e-17, any tolerance met); the
    partial tilt leaves each term's log-variance at LOG_VAR_CAP, so the estimate varies with the seed and
    its relative SE is near a log-normal's: about 1.3 / sqrt(16 terms x 4000 trials) = 0.005 here."""
    a, b = (num.measure_multihead_inverse_snr(np.random.default_rng(s), trials=4000, **_POINT) for s in (1, 2))
    assert a.estimate != b.estimate
    assert 1e-3 < a.standard_error / a.estimate < 2e-2


def test_one_head_is_the_single_head_exp_value():
    """H = 1 reproduces the exp-kernel conditional value (N-1)(d_v/||v_i||^2) exp(2(1-tau)||k_i||^2/tau^2)."""
    params = dict(N=9, d_v=4, key_norm2=6.0, value_norm2=5.0, tau=3.0)
    expected = (params["N"] - 1) * 4 / 5.0 * math.exp(2 * (1 - 3.0) * 6.0 / 9.0)
    assert math.isclose(evaluate(th.inverse_snr_multihead_exp().result, {**params, "H": 1}), expected, rel_tol=1e-12)


def test_rejects_bad_input():
    """Zero heads or an unknown kernel is refused with the constraint named."""
    with pytest.raises(ValueError, match="H=0"):
        num.measure_multihead_inverse_snr(np.random.default_rng(0), **{**_POINT, "H": 0}, trials=10)
    with pytest.raises(ValueError, match="kernel='rbf'"):
        num.measure_multihead_inverse_snr(np.random.default_rng(0), **{**_POINT, "kernel": "rbf"}, trials=10)
