"""A NaN anywhere in a deterministic measure's routes or terms makes its estimate NaN, which the engine
reports as an error: never a pass. Python's ``max`` keeps a NaN only in first place, so the worst gap
over routes taken with it reported agreement for a route that returned NaN (an audit's mutant set every
output of the chunked DeltaFormer to NaN and ``check`` passed). Each test puts the NaN where ``max``
dropped it: in a later route, a later term, or behind a finite start value."""

import math

import numpy as np
import pytest

from numerics import exp_kernel, expressivity, ffn, linear_memory
from numerics.estimate import largest, smallest
from numerics.updates import measures
from proofs_check.engine import ERROR, check_point
from proofs_check.ledger import get_claim


def _nan_like(fn):
    """``fn`` with every output replaced by NaN (same shape)."""
    return lambda *args, **kwargs: np.full_like(np.asarray(fn(*args, **kwargs), dtype=float), np.nan)


def _nan_on_call(fn, call: int):
    """``fn`` whose ``call``-th call (from 1) returns NaN in place of its result."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(None)
        out = fn(*args, **kwargs)
        return np.full_like(np.asarray(out, dtype=float), np.nan) if len(calls) == call else out

    return wrapped


def test_largest_keeps_a_nan_wherever_it_stands():
    for values in ([np.nan, 1.0, 2.0], [1.0, np.nan, 2.0], [1.0, 2.0, np.nan]):
        assert math.isnan(largest(values))
    assert largest([1e-16, 3e-16, 2e-16]) == 3e-16


def test_smallest_keeps_a_nan_wherever_it_stands():
    """The least ESS over columns: ``min`` reported a later column's NaN ESS as the others' finite least."""
    for values in ([np.nan, 1.0, 2.0], [1.0, np.nan, 2.0], [1.0, 2.0, np.nan]):
        assert math.isnan(smallest(values))
    assert smallest([300.0, 100.0, 200.0]) == 100.0


ROUTES = [
    ("update.forms.deltanet", "deltanet_chunked", measures.measure_route_agreement,
     dict(rule="deltanet", T=40, d_k=4, d_v=3, C=8)),
    ("update.forms.softmax", "softmax_attention_chunked", measures.measure_softmax_forms,
     dict(T=40, d_k=4, d_v=3, C=8, tau=2.0)),
    ("update.deltaformer.forms", "deltaformer_chunked", measures.measure_deltaformer_forms,
     dict(T=40, d_k=4, d_v=3, C=8, tau1=0.7, tau2=2.0)),
    ("update.deltaformer.listing1", "deltaformer_first_stage_listing", measures.measure_deltaformer_listing,
     dict(T=40, d_k=4, C=8, similarity=0)),
]


@pytest.mark.parametrize("claim_id, route, measure, params", ROUTES, ids=[r[0] for r in ROUTES])
def test_a_nan_route_makes_the_gap_nan_and_the_point_an_error(monkeypatch, claim_id, route, measure, params):
    """The route under test is not the first in the list of gaps, where ``max`` would have dropped it."""
    monkeypatch.setattr(measures, route, _nan_like(getattr(measures, route)))
    assert math.isnan(measure(np.random.default_rng(0), **params).estimate)
    point = {k: v for k, v in params.items() if k != "rule"}
    assert check_point(get_claim(claim_id), point, seed=1, mode="quick").verdict == ERROR


def test_crosstalk_decomposition_with_a_nan_read_out_is_nan(monkeypatch):
    real = linear_memory.retrieve

    def retrieve(S, K):
        out = real(S, K)
        out[1] = np.nan  # the second query: the first sets the running worst to a finite value
        return out

    monkeypatch.setattr(linear_memory, "retrieve", retrieve)
    est = linear_memory.measure_crosstalk_decomposition(np.random.default_rng(0), N=6, d_k=4, d_v=3)
    assert math.isnan(est.estimate)


def test_householder_tracking_with_a_nan_state_is_nan(monkeypatch):
    real = expressivity.deltanet_permutation_states

    def states(word, n, beta):
        out = np.array(real(word, n, beta), dtype=float)
        out[1] = np.nan
        return out

    monkeypatch.setattr(expressivity, "deltanet_permutation_states", states)
    assert math.isnan(expressivity.measure_householder_tracking(np.random.default_rng(0), n=4, length=5).estimate)


def test_exp_heads_accuracy_with_a_nan_kernel_is_nan(monkeypatch):
    """``max(0.0, nan, ...)`` returned 0.0: a kernel that is NaN everywhere measured as exact."""
    real = expressivity.multi_query_exp_kernel
    monkeypatch.setattr(expressivity, "multi_query_exp_kernel",
                        lambda scales, weights: _nan_like(real(scales, weights)))
    est = expressivity.measure_exp_heads_accuracy(np.random.default_rng(0), s=1.0, r=0.3, delta=0.1)
    assert math.isnan(est.estimate)


def test_normalization_invariance_with_a_nan_normalizer_is_nan(monkeypatch):
    monkeypatch.setattr(exp_kernel, "logsumexp", _nan_on_call(exp_kernel.logsumexp, 2))
    est = exp_kernel.measure_normalization_invariance(np.random.default_rng(0), N=20, d_k=4, d_v=3, tau=2.0)
    assert math.isnan(est.estimate)


def test_ffn_slot_identity_with_a_nan_layer_is_nan(monkeypatch):
    """The layer's scale was ``max(nan, ...)``, then ``nan > 0`` was false and the gap read 0."""
    real = ffn.ffn_forward

    def forward(*args, **kwargs):
        layer, rest = real(*args, **kwargs)
        layer = np.array(layer, dtype=float)
        layer[0, 0] = np.nan
        return layer, rest

    monkeypatch.setattr(ffn, "ffn_forward", forward)
    est = ffn.measure_ffn_slot_identity(np.random.default_rng(0), N=6, d=4, d_v=3, activation=0, glu=0)
    assert math.isnan(est.estimate)


def test_deltaformer_reduction_with_a_nan_matrix_form_is_nan(monkeypatch):
    """The softmax reduction compares the token loop, then the matrix form: a NaN matrix form came second,
    where ``max`` dropped it."""
    monkeypatch.setattr(measures, "deltaformer_parallel", _nan_like(measures.deltaformer_parallel))
    est = measures.measure_deltaformer_reduction(np.random.default_rng(0), reduction="softmax", T=12, d_k=4, d_v=3,
                                                 tau=2.0)
    assert math.isnan(est.estimate)
    point = dict(T=12, d_k=4, d_v=3, tau=2.0)
    assert check_point(get_claim("update.deltaformer.reduces_to_softmax"), point, seed=1, mode="quick").verdict == ERROR


@pytest.mark.parametrize("call", [1, 3])
def test_noise_floor_with_a_nan_energy_is_nan(monkeypatch, call):
    """The least noise over the tight frame (call 1) and the random key sets (calls 2, 3, ...): a NaN
    energy after the first random set was dropped by ``min``, and a NaN tight frame by the final ``min``."""
    monkeypatch.setattr(linear_memory, "_noise_energy_orthonormal_values",
                        _nan_on_call(linear_memory._noise_energy_orthonormal_values, call))
    est = linear_memory.measure_noise_floor(np.random.default_rng(0), N=6, d_k=4, trials=4)
    assert math.isnan(est.estimate)
