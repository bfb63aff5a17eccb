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


def test_sufficient_dimension_and_cache_formulas():
    """d = (4/eps^2) ln n leaves (n - 1)/n < 1 expected violations; the cache is 2 (n + T) ceil(256 ln n)."""
    assert sp.simplify(th.sufficient_dimension().result - (th.n - 1) / th.n) == 0
    assert th.cache_size().result.subs({th.n: 32, th.T: 500}) == 2 * 532 * 888


def test_violation_probability_matches_scipy():
    """The exact pair-violation probability agrees with scipy's regularized incomplete beta."""
    from scipy.special import betainc

    value = float(th.violation_probability().subs({th.d: 64, th.eps: sp.Rational(1, 4)}).evalf(30))
    assert value == pytest.approx(betainc(63 / 2, 0.5, 1 - 1 / 16), rel=1e-12)


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
    assert f"0 pass, 0 fail, 0 error, {len(CITED)} cited" in text
    report = json.loads(out.read_text())
    assert {c["verdict"] for c in report["claims"]} == {"cited"}
    assert {c["symbolic"]["status"] for c in report["claims"]} == {"cited"}
    assert main(["list", "--section", "expressivity"]) == 0
    assert "cited" in capsys.readouterr().out
