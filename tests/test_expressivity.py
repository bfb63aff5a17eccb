"""Section ``expressivity``: Theorem 1's swap construction, where it fails, Householder products,
reachability, the toy task generator, and how the CLI treats cited claims."""

import doctest
import json

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import theory.expressivity
from numerics import expressivity as ex
from proofs_check.cli import main
from proofs_check.ledger import Kind, all_claims, get_claim
from theory import expressivity as th


def test_theory_doctests():
    """The closed forms quoted in theory/expressivity.py's docstrings hold."""
    assert doctest.testmod(theory.expressivity).failed == 0


@settings(max_examples=25)
@given(n=st.integers(2, 40), extra=st.integers(0, 200), T=st.integers(1, 500), seed=st.integers(0, 2**32 - 1))
def test_round_kernel_tracks_every_swap_exactly(n, extra, T, seed):
    """Theorem 1: with coherence < 1/8 and f = round, o(k_j) equals the value now at j, bit for bit."""
    rng = np.random.default_rng(seed)
    keys = ex.coherent_unit_keys(rng, n, 4 * n + 24 + extra)
    off = np.abs(keys @ keys.T)[~np.eye(n, dtype=bool)]
    assert off.size == 0 or off.max() < 1 / 8
    swaps = ex.random_swaps(rng, n, T)
    values = np.eye(n)
    read_outs, K, U = ex.track_swaps(keys, values, swaps)
    np.testing.assert_array_equal(read_outs, values[ex.tracked_positions(n, swaps)])
    assert K.shape == (n + T, keys.shape[1]) and U.shape == (n + T, n)


@settings(max_examples=15)
@given(n=st.integers(2, 24), T=st.integers(1, 300), d_v=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_round_kernel_exact_with_integer_values(n, T, d_v, seed):
    """Integer (not one-hot) values are tracked exactly too: every coefficient is an integer."""
    rng = np.random.default_rng(seed)
    keys = ex.coherent_unit_keys(rng, n, 4 * n + 24)
    values = rng.integers(-50, 50, size=(n, d_v)).astype(float)
    swaps = ex.random_swaps(rng, n, T)
    read_outs, _, _ = ex.track_swaps(keys, values, swaps)
    np.testing.assert_array_equal(read_outs, values[ex.tracked_positions(n, swaps)])


def test_swap_token_exchanges_two_values_by_hand():
    """One swap of positions (0, 2) among 3 exactly orthonormal keys: read-outs permute as expected."""
    keys, values = np.eye(3), np.array([[10.0], [20.0], [30.0]])
    read_outs, _, _ = ex.track_swaps(keys, values, np.array([[0, 2]]))
    np.testing.assert_array_equal(read_outs[0, :, 0], [30.0, 20.0, 10.0])


@pytest.mark.parametrize("kernel", ["round", "identity", "exp", "softmax"])
def test_u_recursion_matches_matrix_form(kernel):
    """The loop u_t = v_t - sum_{i<t} f(w_t^T k_i) u_i equals the solve (I + A) U = V."""
    rng = np.random.default_rng(1)
    L, d, dv = 20, 6, 3
    W, K, V = rng.standard_normal((L, d)) * 0.3, rng.standard_normal((L, d)) * 0.3, rng.standard_normal((L, dv))
    scores = W @ K.T
    A = np.zeros((L, L))
    for t in range(1, L):
        s = scores[t, :t]
        if kernel == "softmax":
            z = np.exp((s - s.max()) / 0.5)
            A[t, :t] = z / z.sum()
        else:
            A[t, :t] = ex.apply_kernel(s, kernel, 0.5)
    U = ex.kernel_u_recursion(W, K, V, kernel=kernel, tau=0.5)
    np.testing.assert_allclose(U, np.linalg.solve(np.eye(L) + A, V), rtol=1e-10, atol=1e-10)


def test_linear_kernel_fails_beyond_d_and_round_does_not():
    """Decoded failure rate: 0 for f = round with coherent keys; > 0 for f = identity once n > d."""
    rng = np.random.default_rng(2)
    n, d, T = 32, 16, 200
    swaps = ex.random_swaps(rng, n, T)
    truth = ex.tracked_positions(n, swaps)
    random_keys = rng.standard_normal((n, d))
    random_keys /= np.linalg.norm(random_keys, axis=1, keepdims=True)
    linear, _, _ = ex.track_swaps(random_keys, np.eye(n), swaps, kernel="identity")
    exact, _, _ = ex.track_swaps(ex.coherent_unit_keys(rng, n, 160), np.eye(n), swaps, kernel="round")
    assert ex.decode_failure_rate(linear, truth) > 0.05
    assert ex.decode_failure_rate(exact, truth) == 0.0


def test_transpositions_realise_any_permutation():
    """Each permutation is a product of at most n - 1 swaps, and beta = 2 Householders multiply to it."""
    rng = np.random.default_rng(3)
    for _ in range(50):
        perm = rng.permutation(6)
        swaps = ex.transpositions_of(perm)
        assert len(swaps) <= 5
        arrangement = np.arange(6)
        for a, b in swaps:
            arrangement[[a, b]] = arrangement[[b, a]]
        np.testing.assert_array_equal(arrangement, perm)
        (state,) = ex.deltanet_permutation_states([perm], 6, 2.0)
        np.testing.assert_allclose(state, np.eye(6)[:, perm], atol=1e-12)


def test_beta_two_read_out_alternates():
    """With beta = 2 (eigenvalue -1) the repeated-token read-out flips sign every step: parity is reachable."""
    k = np.array([1.0, 0.0])
    S, v, q = np.array([[1.0, 0.0], [0.0, 1.0]]), np.zeros(2), np.array([1.0, 0.0])
    outs = []
    for _ in range(6):
        S = S - 2.0 * np.outer(S @ k - v, k)
        outs.append((S @ q)[0])
    assert outs == [-1.0, 1.0, -1.0, 1.0, -1.0, 1.0]


def test_reachability_on_a_chain():
    """A chain 0 -> 1 -> 2 -> 3: (I - A)^{-1} is the lower triangle of ones (one path each)."""
    A = np.diag(np.ones(3), -1)
    np.testing.assert_array_equal(ex.path_count_matrix(A), np.tril(np.ones((4, 4))))
    np.testing.assert_array_equal(ex.reachability_closure(A), np.tril(np.ones((4, 4), dtype=bool)))


def test_swap_task_is_seeded_and_labels_follow_the_swaps():
    """Same seed, same batch; 10 swap ids for 5 elements; labels replayed independently from the tokens."""
    a = ex.swap_task(np.random.default_rng(7), n_elements=5, length=16, batch=8)
    b = ex.swap_task(np.random.default_rng(7), n_elements=5, length=16, batch=8)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert len(a.swap_pairs) == 10 and a.tokens.max() < 10 and a.tokens.shape == (8, 16)
    for seq, labels in zip(a.tokens, a.labels):
        arrangement = list(range(5))
        for tok, label in zip(seq, labels):
            i, j = a.swap_pairs[tok]
            arrangement[i], arrangement[j] = arrangement[j], arrangement[i]
            assert label == arrangement[0]


def test_coherent_keys_report_an_impossible_request():
    """Asking for more coherent keys than the dimension allows raises, naming n and d."""
    with pytest.raises(ValueError, match="increase d"):
        ex.coherent_unit_keys(np.random.default_rng(0), 40, 4, max_draws=2000)


def test_swap_key_sign_is_immaterial():
    """k_a - k_b and k_b - k_a give bit-identical read-outs (u flips sign, u w^T does not): an equivalent
    mutant, pinned so that the claim's sum_key control is the one that covers a wrong swap key."""
    rng = np.random.default_rng(11)
    n, T = 6, 40
    keys = ex.coherent_unit_keys(rng, n, 48)
    swaps = ex.random_swaps(rng, n, T)
    forward, _, _ = ex.track_swaps(keys, np.eye(n), swaps)
    backward, _, _ = ex.track_swaps(keys, np.eye(n), swaps[:, ::-1])
    np.testing.assert_array_equal(forward, backward)


def test_rounding_lemma_counts_four_cross_terms():
    """Lemma 1 by enumeration: token-key inner products are integers in {-2..2} plus at most 4 cross terms."""
    worst_int, worst_cross = th.rounding_lemma()
    assert (worst_int, worst_cross) == (2, 4)


def test_linear_kernel_stays_above_the_eckart_young_floor():
    """With f = identity and n > d the n x n read-out has rank <= d, so ||R - P||_F^2 >= n - d at every
    step; the rounding kernel on coherent keys (rank n) tracks exactly and goes below it. (This was the
    retired claim linear_kernel_rank_floor: true of every linear read-out, so kept as a test of the code.)"""
    rng = np.random.default_rng(12)
    n, d, T = 24, 10, 120
    swaps = ex.random_swaps(rng, n, T)
    expected = np.eye(n)[ex.tracked_positions(n, swaps)]
    keys = rng.standard_normal((n, d))
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)
    linear, _, _ = ex.track_swaps(keys, np.eye(n), swaps, kernel="identity")
    assert np.all(np.linalg.matrix_rank(linear) <= d)
    assert np.min(np.sum((linear - expected) ** 2, axis=(1, 2))) >= (n - d) * (1 - 1e-9)
    exact, _, _ = ex.track_swaps(ex.coherent_unit_keys(rng, n, 4 * n + 24), np.eye(n), swaps)
    assert np.max(np.sum((exact - expected) ** 2, axis=(1, 2))) == 0.0


def test_violation_probability_matches_scipy():
    """The exact pair-violation probability agrees with scipy's regularized incomplete beta."""
    from scipy.special import betainc

    value = float(th.violation_probability().subs({th.d: 64, th.eps: sp.Rational(1, 4)}).evalf(30))
    assert value == pytest.approx(betainc(63 / 2, 0.5, 1 - 1 / 16), rel=1e-12)


# --- the dimension needed: violation law and growth rate -----------------------------------------

def _exact_p(d, eps):
    return float(th.violation_probability().subs({th.d: d, th.eps: sp.nsimplify(eps)}).evalf(30))


def test_violation_pairs_are_pairwise_independent():
    """Var #violations = n(n-1)/2 p (1 - p): pairs sharing a key are independent events (rotation invariance),
    which the claim's power plan relies on. Sample variance within 5 SE of the exact value."""
    n, d, eps, trials = 10, 8, 0.5, 60_000
    counts = ex.violation_counts(np.random.default_rng(21), n, d, eps, trials)
    p = _exact_p(d, eps)
    var = n * (n - 1) / 2 * p * (1 - p)
    fourth = np.mean((counts - counts.mean()) ** 4)
    se_var = np.sqrt((fourth - counts.var() ** 2) / trials)
    assert abs(counts.var(ddof=1) - var) < 5 * se_var


@pytest.mark.parametrize("d, eps", [(8, 0.5), (16, 0.5), (24, 0.4)])
def test_reduced_route_matches_direct_pair_counts(d, eps):
    """The tilted conditional draws of p_d (reduced form g / sqrt(g^2 + chi^2_{d-1})) agree with the direct
    matrix-level count of violating pairs among uniform unit keys (both are Monte Carlo; 5 combined SEs)."""
    rng = np.random.default_rng([31, d])
    n = 16
    direct = ex.measure_violation_count(rng, n=n, d=d, epsilon=eps, trials=20_000)
    p_direct, se_direct = direct.estimate / (n * (n - 1) / 2), direct.standard_error / (n * (n - 1) / 2)
    y = np.exp(ex.violation_probability_draws(rng, d=d, epsilon=eps, trials=40_000))
    p_reduced, se_reduced = y.mean(), y.std(ddof=1) / np.sqrt(y.size)
    assert abs(p_direct - p_reduced) < 5 * np.hypot(se_direct, se_reduced)


@pytest.mark.parametrize("d, eps", [(64, 0.5), (512, 0.5), (1536, 0.35), (2048, 0.3)])
def test_reduced_route_matches_the_exact_tail_far_out(d, eps):
    """Where direct counting is hopeless (p_d down to 1e-45) the tilted route still agrees with the exact
    I_{1-eps^2}((d-1)/2, 1/2) in log space (5 SE), with a healthy effective sample size."""
    log_y = ex.violation_probability_draws(np.random.default_rng([32, d]), d=d, epsilon=eps, trials=20_000)
    top = log_y.max()
    y = np.exp(log_y - top)
    log_p, se = top + np.log(y.mean()), y.std(ddof=1) / (np.sqrt(y.size) * y.mean())
    exact = float(sp.log(th.violation_probability().subs({th.d: d, th.eps: sp.nsimplify(eps)})).evalf(30))
    assert abs(log_p - exact) < 5 * se
    assert y.sum() ** 2 / (y**2).sum() > 2000  # relative variance about 1 per draw by design, not 0


@pytest.mark.parametrize("n", [3, 5, 8])
def test_random_swaps_are_uniform_over_the_position_pairs(n):
    """Every one of the n(n-1)/2 pairs a < b occurs, each with probability 2/(n(n-1)) (chi-square goodness of
    fit at 20,000 swaps). The swap claims hold for any sequence, so only this test sees a sampler that
    reaches some pairs only (an audit's mutant drew adjacent positions alone and passed check)."""
    from scipy import stats

    swaps = ex.random_swaps(np.random.default_rng(n), n, 20_000)
    assert np.all(swaps[:, 0] < swaps[:, 1]) and swaps.min() >= 0 and swaps.max() < n
    pairs, counts = np.unique(swaps, axis=0, return_counts=True)
    assert len(pairs) == n * (n - 1) // 2
    assert stats.chisquare(counts).pvalue > 1e-6


def _exact_fit(dims, eps):
    logs = np.array([float(th.log_first_moment_size(x, eps)) for x in dims])
    return ex.extrapolation_weights(dims) @ logs


@pytest.mark.parametrize("d_min, d_max, eps", [(32, 512, 0.5), (96, 1536, 0.35), (128, 2048, 0.3),
                                                (24, 192, 0.6), (64, 512, 0.4), (192, 3072, 0.35),
                                                (50, 400, 0.45), (400, 3200, 0.2)])
def test_extrapolation_bound_covers_the_true_bias(d_min, d_max, eps):
    """The claim's finite-size bound (twice the gap to the next-order fit, computed without the limit)
    exceeds the true bias of the fit on the exact p_d, which only this test may compute with the limit."""
    claim = get_claim("expressivity.dimension.coherence_exponent")
    params = claim.validate({"d_min": d_min, "d_max": d_max, "epsilon": eps})
    dims = ex.coherence_ladder(d_min, d_max)
    bias = abs(_exact_fit(dims, eps)[1] - float(th.coherence_rate().subs(th.eps, sp.nsimplify(eps))))
    assert bias <= claim.bound(params)
    assert claim.bound(params) < 0.005 * float(th.coherence_rate().subs(th.eps, sp.nsimplify(eps)))


def test_fit_recovers_the_predicted_approach():
    """The fitted coefficient of ln d (the approach of log n*/d to its limit, c + g ln d / d) is 1/4 as the
    Beta asymptotics predict: on exact values to 0.05, and from Monte Carlo within 5 SE."""
    dims = ex.coherence_ladder(32, 512)
    assert abs(_exact_fit(dims, 0.5)[2] - 0.25) < 0.05
    est = ex.measure_coherence_exponent(np.random.default_rng(41), d_min=32, d_max=512, epsilon=0.5, trials=20_000)
    assert abs(est.diagnostics["g"] - 0.25) < 5 * est.diagnostics["g_se"]


@pytest.mark.parametrize("d_min, d_max, eps", [(32, 512, 0.5), (96, 1536, 0.35)])
def test_plain_slope_control_is_the_unextrapolated_slope_and_a_near_miss(d_min, d_max, eps):
    """The ``plain_slope`` route is the least-squares slope of log n* on d (exact on a line), and on the exact
    p_d of each default ladder it sits 1-2 % above the limit: a near miss, farther than the resolution."""
    dims = ex.coherence_ladder(d_min, d_max)
    assert ex.plain_slope_weights(dims)[1] @ (3.0 + 0.07 * dims) == pytest.approx(0.07, rel=1e-12)
    logs = np.array([float(th.log_first_moment_size(x, eps)) for x in dims])
    limit = float(th.coherence_rate().subs(th.eps, sp.nsimplify(eps)))
    assert 0.01 < ex.plain_slope_weights(dims)[1] @ logs / limit - 1 < 0.02


@pytest.mark.parametrize("p", [0.5, 1e-3, 1e-40])
def test_first_moment_size_and_its_slope(p):
    """log n* from log p equals log((1 + sqrt(1 + 8/p))/2) (as mpmath computes it), and the returned
    d log n*/d log p matches a central difference."""
    import mpmath as mp

    log_n, slope = ex.log_first_moment_size(np.log(p))
    exact = float(mp.log((1 + mp.sqrt(1 + 8 / mp.mpf(p))) / 2))
    assert log_n == pytest.approx(exact, rel=1e-12, abs=1e-12)
    h = 1e-5
    numeric = (ex.log_first_moment_size(np.log(p) + h)[0] - ex.log_first_moment_size(np.log(p) - h)[0]) / (2 * h)
    assert slope == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("claim_id", ["expressivity.dimension.violation_count",
                                      "expressivity.dimension.coherence_exponent"])
def test_monte_carlo_sides_vary_with_the_seed(claim_id):
    """Each Monte Carlo side is a genuine simulation: its estimate changes from seed to seed by about its own SE."""
    claim = get_claim(claim_id)
    params = dict(claim.grids["quick"][0])
    ests = [claim.measure(np.random.default_rng(s), trials=claim.trials["quick"], **params) for s in range(6)]
    values = np.array([e.estimate for e in ests])
    se = np.mean([e.standard_error for e in ests])
    assert se > 0 and 0.2 * se < values.std(ddof=1) < 5 * se


def test_dimension_inputs_are_checked():
    """Bad inputs name the constraint: eps outside (0, 1), a single key, a ladder too short."""
    with pytest.raises(ValueError, match="epsilon"):
        ex.violation_counts(np.random.default_rng(0), 4, 8, 1.5, 10)
    with pytest.raises(ValueError, match="n=1"):
        ex.violation_counts(np.random.default_rng(0), 1, 8, 0.5, 10)
    with pytest.raises(ValueError, match="d_max"):
        ex.coherence_ladder(32, 40)


# --- cited claims through the CLI -----------------------------------------------------------------

CITED = [c.id for c in all_claims("expressivity") if c.kind is Kind.CITED]


def test_section_records_the_literature_as_cited():
    """The complexity facts are ledger entries of kind cited."""
    assert {"expressivity.circuits.transformer_tc0", "expressivity.circuits.swap_nc1_complete",
            "expressivity.circuits.inversion_nc2"} <= set(CITED)


@pytest.mark.parametrize("claim_id", CITED)
def test_cli_shows_and_evals_cited_claims_without_verifying(claim_id, capsys):
    """show and eval print the citation; eval says 'recorded, not verified' and exits 0."""
    assert main(["show", claim_id]) == 0
    shown = capsys.readouterr().out
    assert "kind:        cited" in shown and get_claim(claim_id).citation in shown
    assert main(["eval", claim_id]) == 0
    assert "cited fact: recorded, not verified" in capsys.readouterr().out


def test_cli_check_reports_cited_claims_as_cited(capsys, tmp_path):
    """check counts cited claims apart from passes; the JSON never calls them verified."""
    out = tmp_path / "r.json"
    assert main(["check", *CITED, "--quick", "-q", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"0 pass, 0 fail, 0 error, 0 underpowered, {len(CITED)} cited" in text
    report = json.loads(out.read_text())
    assert {c["verdict"] for c in report["claims"]} == {"cited"}
    assert {c["symbolic"]["status"] for c in report["claims"]} == {"cited"}
    assert main(["list", "--section", "expressivity"]) == 0
    assert "cited" in capsys.readouterr().out


# --- four exponential heads (multi-query) for the rounding kernel ---------------------------------

_HEAD_BOUND = sp.lambdify((th.s_head, th.r_head, th.delta), th.four_exp_heads_accuracy().result, "math")


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 12), extra=st.integers(0, 80), T=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_four_heads_error_within_the_stated_bound_on_random_keys(n, extra, T, seed):
    """Every inner product a swap run with random coherent keys produces lies within 4 eps of the lattice,
    and the four-head kernel's error there stays within the claim's bound E(4 eps) (s = 1/2, r = 1)."""
    rng = np.random.default_rng(seed)
    keys = ex.coherent_unit_keys(rng, n, 4 * n + 24 + extra)
    coherence = float(np.max(np.abs(keys @ keys.T - np.eye(n))))
    K, _ = ex.swap_tokens(keys, np.eye(n), ex.random_swaps(rng, n, T))
    scores = np.concatenate([(K @ K.T).ravel(), (keys @ K.T).ravel()])
    assert np.max(np.abs(scores - np.rint(scores))) <= 4 * coherence + 1e-12
    kernel = ex.multi_query_exp_kernel([0.5, -0.5, 1.0, -1.0], ex.exp_head_weights([0.5, -0.5, 1.0, -1.0])[0])
    error = np.max(np.abs(kernel(scores) - np.rint(scores)))
    assert error <= _HEAD_BOUND(0.5, 1.0, max(4 * coherence, 1e-9)) + 1e-12


def test_three_exp_heads_miss_the_lattice_and_four_do_not():
    """No three exponential heads equal round on {-2..2} (the obstruction); four at (s, -s, r, -r) do."""
    for scales in ([0.5, -0.5, 1.5], [0.3, 1.0, -2.0], [0.1, -0.2, 0.3]):
        assert ex.exp_head_weights(scales)[1] > 1e-4
    assert ex.exp_head_weights([0.5, -0.5, 1.5, -1.5])[1] < 1e-12
    assert [c.status for c in th.four_exp_heads().verify()] == ["verified"] * 4


def test_rewrite_bounds_the_cache_and_keeps_tracking_exact():
    """With a rewrite every R swaps the cache never holds more than n + R tokens (n + T without it), and
    the read-outs stay the tracked values."""
    rng = np.random.default_rng(7)
    n, d, T, R = 6, 60, 50, 6
    keys, values = ex.coherent_unit_keys(rng, n, d), ex.coherent_unit_keys(rng, n, d)
    swaps = ex.random_swaps(rng, n, T)
    read_outs, longest = ex.track_swaps_with_rewrite(keys, values, swaps, R)
    assert longest == n + R
    np.testing.assert_allclose(read_outs, values[ex.tracked_positions(n, swaps)], atol=1e-12)
    _, K, _ = ex.track_swaps(keys, values, swaps)
    assert K.shape[0] == n + T
