"""The mutant catalogue for bench/mutation.py: plausible bugs in ``theory/`` and ``numerics/``.

Each :class:`Mutant` replaces one exact snippet (occurring exactly once) of one file. ``kind`` names
the bug class (dropped factor, off-by-one, wrong constant, mask, sign, scaling in a shared helper,
wrong distribution parameter, ...); ``survives_because`` is filled in only for a mutant that the
ledger does not kill, with the reason (an equivalent mutant, or a check the ledger lacks).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MUTANTS", "Mutant", "SECTION_MUTANTS"]


@dataclass(frozen=True)
class Mutant:
    id: str
    section: str  # basics, capacity, ffn, update, expressivity, context
    file: str
    old: str
    new: str
    kind: str
    description: str
    survives_because: str = ""



# fmt: off
M = Mutant
LM, TLM = "numerics/linear_memory.py", "theory/linear_memory.py"
KN, TK, EK = "numerics/kernels.py", "theory/kernels.py", "numerics/exp_kernel.py"
FN, TF = "numerics/ffn.py", "theory/ffn.py"
TU, REC, PAR, CHU, KER = ("theory/updates.py", "numerics/updates/recurrent.py", "numerics/updates/parallel.py",
                          "numerics/updates/chunked.py", "numerics/updates/kernels.py")
FP, TI, MEAS = "numerics/fixed_points.py", "numerics/triangular_inverse.py", "numerics/updates/measures.py"
XN, TX = "numerics/expressivity.py", "theory/expressivity.py"
CN, TC = "numerics/context.py", "theory/context.py"

MUTANTS: tuple[Mutant, ...] = (
    # --- basics: Eq. (1), Eq. (4), orthonormal retrieval, the noise floor -------------------------
    M("basics.accumulate_skips_first_token", "basics", LM,
      "    for k, v in zip(K, V):\n        S = np.outer(v, k) if overwrite",
      "    for k, v in zip(K[1:], V[1:]):\n        S = np.outer(v, k) if overwrite",
      "off-by-one", "the Eq. (1) loop starts at the second token (S_1 never written)"),
    M("basics.crosstalk_keeps_self_score", "basics", LM,
      "        scores[i] = 0.0\n", "",
      "mask", "the crosstalk sum of the decomposition includes j = i (self score not zeroed)"),
    M("basics.crosstalk_signal_norm_not_squared", "basics", LM,
      'signal_scale = 1.0 if variant == "unit_signal" else scores[i]',
      'signal_scale = 1.0 if variant == "unit_signal" else np.sqrt(scores[i])',
      "wrong constant", "signal scale ||k_i|| instead of ||k_i||^2 in the decomposition"),
    M("basics.harmonic_frame_scale", "basics", LM,
      "cols = [np.sqrt(2.0 / d) * np.cos(angle), np.sqrt(2.0 / d) * np.sin(angle)]",
      "cols = [np.sqrt(1.0 / d) * np.cos(angle), np.sqrt(1.0 / d) * np.sin(angle)]",
      "dropped factor", "tight-frame columns scaled by sqrt(1/d) instead of sqrt(2/d) (rows not unit norm)"),
    M("basics.harmonic_frame_dc_frequency", "basics", LM,
      "m = np.arange(1, d // 2 + 1)[None, :]", "m = np.arange(0, d // 2)[None, :]",
      "off-by-one", "DFT frequencies 0..d/2-1 instead of 1..d/2 (the DC column breaks tightness)"),
    M("basics.unit_rows_wrong_axis", "basics", LM,
      "return X / np.linalg.norm(X, axis=1, keepdims=True)",
      "return X / np.linalg.norm(X, axis=0, keepdims=True)",
      "wrong axis", "shared helper unit_rows normalises columns instead of rows"),
    M("basics.theory_noise_floor_diagonal_kept", "basics", TLM,
      '        .cite(N**2 / d_k - N, "Cauchy-Schwarz on the d_k nonzero eigenvalues of K K^T (trace N); "\n'
      '              "attained by unit-norm tight frames (Benedetto & Fickus 2003)")\n'
      '        .step(N * (N - d_k) / d_k, "factor")',
      '        .cite(N**2 / d_k, "Cauchy-Schwarz on the d_k nonzero eigenvalues of K K^T (trace N); "\n'
      '              "attained by unit-norm tight frames (Benedetto & Fickus 2003)")\n'
      '        .step(N * N / d_k, "factor")',
      "dropped term", "noise floor as the frame potential N^2/d_k, the diagonal N not subtracted (consistent chain)"),
    M("basics.theory_accumulation_overwrites", "basics", TLM,
      "        memory = memory + v * k.T\n", "        memory = v * k.T\n",
      "carried state", "Eq. (1) derivation overwrites the memory instead of accumulating"),
    M("basics.theory_crosstalk_half_sum", "basics", TLM,
      "for j in range(n) if j != i)", "for j in range(n) if j > i)",
      "mask", "crosstalk sum over j > i only (strict order instead of j != i)",
      survives_because=(
          'equivalent: theory.linear_memory.crosstalk_decomposition is only ever built with its default i = 0 (the '
          'claim basics.linear.crosstalk_decomposition passes the function itself; nothing else calls it), and for '
          'i = 0 the sums over j > i and over j != i hold the same terms, so the derivation, its verification and '
          'its rendering are unchanged. Only a check at i >= 1 (or with a symbolic index) could tell them apart. '
          'The tests do not kill it either (full suite passes).'),
    ),
    M("basics.theory_orthonormal_sign", "basics", TLM,
      "k2 = sp.Matrix([-sp.sin(theta), sp.cos(theta)])", "k2 = sp.Matrix([sp.sin(theta), sp.cos(theta)])",
      "sign", "second rotated basis key loses its minus sign (keys no longer orthogonal)"),

    # --- capacity: the linear memory's SNR (numerics/linear_memory.py, theory/linear_memory.py) ---
    M("capacity.linear_conditional_N_not_N_minus_1", "capacity", LM,
      "scores2 = key_norm2 * _sum_of_squares(rng, trials, N - 1)",
      "scores2 = key_norm2 * _sum_of_squares(rng, trials, N)",
      "off-by-one", "conditional SNR^-1 simulates N interfering pairs instead of N - 1"),
    M("capacity.linear_mean_value_norm_plugin", "capacity", LM,
      "        vv = _sum_of_squares(rng, trials, d_v)\n", "        vv = np.full(trials, float(d_v))\n",
      "distribution parameter", "mean estimand plugs in ||v_i||^2 = d_v instead of drawing chi^2(d_v)"),
    M("capacity.linear_ratio_signal_not_squared", "capacity", LM,
      'out[f"signal_{s}"][start:start + n] = d_v * kk**2', 'out[f"signal_{s}"][start:start + n] = d_v * kk',
      "wrong constant", "ratio estimand signal c^2 with c = ||k_i|| instead of ||k_i||^2 (norm not squared)"),
    M("capacity.linear_limit_scaled_other_pairs", "capacity", LM,
      "[s * N - 1 for s in scales]", "[s * (N - 1) for s in scales]",
      "off-by-one", "at scale s the extrapolation uses s (N - 1) other pairs instead of s N - 1"),
    M("capacity.linear_sphere_chi2_dof", "capacity", LM,
      "rest = rng.chisquare(d_k - 1, (n, m))", "rest = rng.chisquare(d_k, (n, m))",
      "distribution parameter", "unit-key scores use chi^2(d_k) for the orthogonal part instead of chi^2(d_k - 1)"),
    M("capacity.linear_limit_extrapolates_in_d_k", "capacity", LM,
      "x = 1.0 / (np.asarray(LIMIT_SCALES, dtype=float) * d_k)", "x = np.asarray(LIMIT_SCALES, dtype=float) * d_k",
      "wrong variable", "Richardson extrapolation in d_k instead of 1/d_k"),
    M("capacity.linear_capacity_counts_query", "capacity", LM,
      "per_pair = est.estimate / (2 * dk)", "per_pair = est.estimate / (2 * dk + 1)",
      "off-by-one", "per-pair crosstalk divides by N = 2 d_k + 1 instead of the 2 d_k interfering pairs"),
    M("capacity.theory_mean_N_not_N_minus_1", "capacity", TLM,
      "start = (N - 1) * d_v * E_inv_k2 * E_inv_v2", "start = N * d_v * E_inv_k2 * E_inv_v2",
      "off-by-one", "mean estimand derived with N interfering pairs (the paper's N for N - 1)"),
    M("capacity.theory_sphere_wrong_beta_law", "capacity", TLM,
      '.substitute(E_kk2, 1 / d_k, "(k_j^T k_i)^2 ~ Beta(1/2, (d_k - 1)/2) for independent uniform unit vectors",\n'
      '                    proof=E(Beta("B", sp.Rational(1, 2), (d_k - 1) / 2)))',
      '.substitute(E_kk2, 1 / (d_k + 1), "(k_j^T k_i)^2 ~ Beta(1/2, (d_k - 1)/2) for independent uniform unit vectors",\n'
      '                    proof=E(Beta("B", sp.Rational(1, 2), d_k / 2)))',
      "distribution parameter", "sphere crosstalk from Beta(1/2, d_k/2) (mean 1/(d_k + 1)), consistent chain"),
    M("capacity.theory_ratio_fourth_moment_jensen", "capacity", TLM,
      '.substitute(E_k4, d_k * (d_k + 2), "E||k_i||^4 = d_k (d_k + 2)", proof=_chi2_moment(d_k, 2))\n'
      '        .step((N - 1) / (d_k + 2), "cancel d_k d_v")',
      '.substitute(E_k4, d_k**2, "E||k_i||^4 = d_k (d_k + 2)", proof=_chi2_moment(d_k, 1) ** 2)\n'
      '        .step((N - 1) / d_k, "cancel d_k d_v")',
      "wrong constant", "E||k||^4 taken as (E||k||^2)^2 = d_k^2, so the ratio estimand is (N - 1)/d_k (consistent chain)"),
    M("capacity.theory_conditional_std_for_variance", "capacity", TLM,
      'proof=E(Normal("Z", 0, sp.sqrt(a)) ** 2).subs(a, key_norm2))',
      'proof=E(Normal("Z", 0, a) ** 2).subs(a, key_norm2))',
      "distribution parameter", "sympy.stats Normal given the variance where it takes the standard deviation"),
    M("capacity.theory_paper_limit_N_minus_1", "capacity", TLM,
      "    return N / d_k\n", "    return (N - 1) / d_k\n",
      "off-by-one", "the paper's Eq. (7) limit written as (N - 1)/d_k"),
    M("capacity.theory_limit_ray_not_scaled", "capacity", TLM,
      "return inverse_snr_ratio().result.subs({N: s * N, d_k: s * d_k}, simultaneous=True)",
      "return inverse_snr_ratio().result.subs({d_k: s * d_k}, simultaneous=True)",
      "wrong bound", "finite-size bias of the limit check scales d_k but not N along the ray",
      survives_because=(
          'gap: _ratio_at_scale feeds only the finite-size bound of capacity.linear.paper_limit '
          '(ratio_limit_extrapolation_bias) and the prediction of its near-miss control largest_size_as_limit, and '
          'the ledger checks neither on its own. Scaling d_k but not N makes the bound about 10x larger (4.1e-5 -> '
          '4.3e-4 at N = 32, d_k = 32: still below the SE, so the verdict does not move) and turns the near miss '
          'into the far miss (N - 1)/(4 d_k + 2), which is still rejected. Missing check: the claim should verify '
          'its bound and its near-miss prediction against an independent evaluation (sum_s w_s (s N - 1)/(s d_k + '
          '2) - N/d_k in floats; (4N - 1)/(4 d_k + 2)), e.g. as side conditions of the derivation. Killed by '
          'tests/test_linear_memory.py (test_extrapolation_bias_is_the_quadratic_extrapolation_of_the_exact_ratio, '
          'test_largest_size_control_is_the_exact_ratio_at_four_times_the_size) and the theory.linear_memory '
          'doctest.'),
    ),

    # --- capacity: kernels (theory/kernels.py, numerics/kernels.py, numerics/exp_kernel.py) -----
    M("capacity.theory_exp_exponent_tau_not_squared", "capacity", TK,
      "return 2 * d_k * (1 - tau) / tau**2", "return 2 * d_k * (1 - tau) / tau",
      "wrong constant", "typical exp-kernel exponent divides by tau instead of tau^2",
      survives_because=(
          'gap: theory.kernels.exp_typical_exponent is used only in control predictions (typical_norms of '
          'capacity.exp.inverse_snr_conditional, typical_plug_in of capacity.exp.inverse_snr_mean and of '
          'capacity.exp.inverse_snr_ratio). All three are far misses and stay rejected with tau for tau^2; no '
          'ledger claim checks the formula. Missing check: a symbolic side condition (e.g. in '
          'inverse_snr_exp_typical) that exp_typical_exponent() is the log of inverse_snr_exp().result/(N - 1) at '
          '||k_i||^2 = d_k, ||v_i||^2 = d_v. Killed by '
          'tests/test_heavy_tails.py::test_typical_exponent_is_the_conditional_at_typical_norms.'),
    ),
    M("capacity.theory_double_factorial_plus", "capacity", TK,
      "return sp.factorial(2 * n) / (2**n * sp.factorial(n))",
      "return sp.factorial(2 * n + 1) / (2**n * sp.factorial(n))",
      "wrong constant", "(2p + 1)!! for (2p - 1)!! in the shared double factorial"),
    M("capacity.theory_truncated_signal_degree", "capacity", TK,
      "return sum((s2 / tau_) ** q_ / sp.factorial(q_) for q_ in range(int(P) + 1))",
      "return sum((s2 / tau_) ** q_ / sp.factorial(q_) for q_ in range(int(P)))",
      "off-by-one", "truncated-kernel signal kappa_P(k_i, k_i) sums degrees 0..P-1"),
    M("capacity.theory_value_mean_pair_count", "capacity", TK,
      "(N - 1) * (N - 2) * value_mean_norm2 * E_kernel**2", "(N - 1) ** 2 * value_mean_norm2 * E_kernel**2",
      "off-by-one", "ordered pairs j != l of the value-mean term counted as (N - 1)^2"),
    M("capacity.theory_value_mean_diagonal_dropped", "capacity", TK,
      "((N - 1) * (d_v + value_mean_norm2) * E_kernel2", "((N - 1) * d_v * E_kernel2",
      "dropped term", "value-mean SNR drops the ||mu||^2 of the diagonal terms j = l"),
    M("capacity.theory_exp_capacity_drops_one", "capacity", TK,
      "return 1 + rho * sp.exp(d_k / 2)", "return rho * sp.exp(d_k / 2)",
      "off-by-one", "exp-kernel capacity N* without the queried pair",
      survives_because=(
          'gap: capacity_exp feeds only the near-miss control capacity_with_stored_pair of '
          "capacity.compare.exp_slope (through capacity_exp_slope_finite_size). Without the + 1 the control's slope"
          " is exactly 1/2, the prediction itself, so the engine marks the control 'not applicable' at every point,"
          ' and the claim passes with no near-miss control at all. Missing check: the engine (not only a test) '
          "should fail a claim whose near-miss control is not applicable at a default point (the issue's 'rejected "
          "at every default point'), and capacity_exp should be derived from inverse_snr_exp_typical = rho (a sympy"
          ' solve) rather than written out. Killed by tests/test_heavy_tails.py '
          '(test_slope_with_stored_pair_matches_numpy, '
          'test_a_near_miss_control_applies_at_every_default_point[capacity.compare.exp_slope]) and the '
          'theory.kernels doctest.'),
    ),
    M("capacity.theory_exp_slope_grid_end", "capacity", TK,
      "range(int(d_min), int(d_max) + 1, 4)", "range(int(d_min), int(d_max), 4)",
      "off-by-one", "finite-size exp slope grid excludes d_max",
      survives_because=(
          'gap: capacity_exp_slope_finite_size, the prediction of the near-miss control capacity_with_stored_pair '
          'of capacity.compare.exp_slope, is then computed on d_min, ..., d_max - 4 while the measurement '
          "(numerics.exp_kernel.capacity_dims) uses d_min, ..., d_max. The control's value moves slightly and it is"
          " still rejected; nothing in the ledger ties the control's grid to the numeric side's. Missing check: "
          'compute the control from capacity_dims (one grid for both), or a side condition that the two grids '
          'agree. Killed by tests/test_heavy_tails.py::test_slope_with_stored_pair_matches_numpy and the '
          'theory.kernels doctest.'),
    ),
    M("capacity.theory_taylor_bound_factorial", "capacity", TK,
      "_R ** (_P + 1) * sp.exp(_R) / sp.factorial(_P + 1)", "_R ** (_P + 1) * sp.exp(_R) / sp.factorial(_P)",
      "wrong bound", "Lagrange remainder bound divided by P! instead of (P + 1)!",
      survives_because=(
          'gap: taylor_remainder_bound is only the prediction of the far control lagrange_bound of '
          'capacity.expansion.truncation_error; dividing by P! for (P + 1)! multiplies it by P + 1 and the control '
          "stays rejected. The claim's statement includes '<= R^{P+1} e^R/(P+1)!' but the ledger never checks that "
          'inequality (the estimand notes defer it to the tests). Missing check: a second comparison in the claim, '
          'worst error <= bound <= e^R x worst error at every point. Killed by '
          'tests/test_kernels.py::test_lagrange_bound_sandwiches_the_worst_error.'),
    ),
    M("capacity.theory_feature_dimension", "capacity", TK,
      "return sp.binomial(d + p - 1, p)", "return sp.binomial(d + p, p)",
      "off-by-one", "monomial count C(d + p, p) instead of C(d + p - 1, p)"),
    M("capacity.kernel_score_variance_for_std", "capacity", KN,
      "w = kernel(math.sqrt(key_norm2) * rng.standard_normal(", "w = kernel(key_norm2 * rng.standard_normal(",
      "distribution parameter", "reduced kernel trials draw scores with std ||k_i||^2 instead of ||k_i||"),
    M("capacity.kernel_signal_not_squared", "capacity", KN,
      "return d_v * out / (signal**2 * value_norm2)", "return d_v * out / (signal * value_norm2)",
      "wrong constant", "reduced kernel SNR^-1 divides by c instead of c^2"),
    M("capacity.kernel_truncated_exp_no_factorial", "capacity", KN,
      "term = term * u / q", "term = term * u",
      "dropped factor", "Taylor terms of the truncated exp lack the 1/q! factor"),
    M("capacity.kernel_truncated_tau_multiplied", "capacity", KN,
      "return truncated_exp(s / tau, degree)", "return truncated_exp(s * tau, degree)",
      "shared-helper scaling", "truncated-kernel temperature multiplies the score"),
    M("capacity.kernel_poly_capacity_se_absolute", "capacity", KN,
      "np.log(rho) - np.log(mean), se / mean)", "np.log(rho) - np.log(mean), se)",
      "standard error", "delta-method SE of log C uses se(g) instead of se(g)/g"),
    M("capacity.exp_conditional_N_not_N_minus_1", "capacity", EK,
      "math.log((N - 1) * d_v / value_norm2)", "math.log(N * d_v / value_norm2)",
      "off-by-one", "exp-kernel conditional SNR^-1 scaled by N instead of N - 1"),
    M("capacity.exp_tilt_weight_sign", "capacity", EK,
      "return (a - shift)[:, None] * z + 0.5 * (shift * shift)[:, None]",
      "return (a - shift)[:, None] * z - 0.5 * (shift * shift)[:, None]",
      "importance weight", "log likelihood ratio of the tilted normal with the wrong sign on lambda^2 a^2/2"),
    M("capacity.exp_full_tilt", "capacity", EK,
      "return np.where(a <= root, 0.0, 1.0 - root / np.maximum(a, root))",
      "return np.where(a <= root, 0.0, 1.0)",
      "importance weight", "zero-variance (fully tilted) proposal: the simulation returns the closed form"),
    M("capacity.exp_chi2_weight_sign", "capacity", EK,
      "x * (1.0 / theta - 0.5)", "x * (0.5 - 1.0 / theta)",
      "importance weight", "Gamma-tilt log weight of the stored key's norm with the wrong sign"),
    M("capacity.exp_value_mean_total_not_squared", "capacity", EK,
      "+ mu2 * total * total) / value_norm2", "+ mu2 * total) / value_norm2",
      "wrong constant", "value-mean crosstalk ||mu||^2 sum_j kappa_j, the total weight not squared"),
    M("capacity.exp_vertex_returns_u", "capacity", EK,
      "tau_star = -2.0 * beta[2] / beta[1]", "tau_star = -beta[1] / (2.0 * beta[2])",
      "wrong variable", "optimal temperature reports the vertex u* = 1/tau* instead of tau*"),
    M("capacity.exp_optimum_drops_key_variance", "capacity", EK,
      "a = 2.0 * math.sqrt(key_var * s2) * bk", "a = 2.0 * math.sqrt(s2) * bk",
      "dropped factor", "projection variance sigma^2 ||k_i||^2 taken as ||k_i||^2 (key variance dropped)"),
    M("capacity.exp_capacity_signal_not_squared", "capacity", EK,
      "- math.log(keys_per_trial) - float(d))", "- math.log(keys_per_trial) - float(d) / 2)",
      "wrong constant", "capacity slope divides by kappa(k_i, k_i) = e^{d/2} instead of its square e^d"),

    # --- ffn ------------------------------------------------------------------------------------
    M("ffn.theory_silu_slope_factor", "ffn", TF,
      "/ (4 * mpmath.cosh(z / 2) ** 2)", "/ (2 * mpmath.cosh(z / 2) ** 2)",
      "wrong constant", "sigmoid'(z) written 1/(2 cosh^2(z/2)) instead of 1/(4 cosh^2(z/2))"),
    M("ffn.theory_silu_half_line", "ffn", TF,
      "return 2 * mpmath.quad(integrand, points) / mpmath.sqrt(2 * mpmath.pi * s2)",
      "return mpmath.quad(integrand, points) / mpmath.sqrt(2 * mpmath.pi * s2)",
      "dropped factor", "symmetric integral over the half line without the factor 2"),
    M("ffn.theory_topk_beta_parameter", "ffn", TF,
      "a, b = n - m, m", "a, b = n - m + 1, m",
      "off-by-one", "order-statistic Beta(n - m + 1, m) instead of Beta(n - m, m)"),
    M("ffn.theory_topk_k_for_k_minus_1", "ffn", TF,
      '    kept = key_norm2 * TopKTailMoment(N - 1, k_active - 1) / (N - 1)\n'
      '    return (\n'
      '        inverse_snr_general()\n'
      '        .cite(kept * (N - 1) * d_v / (kernel_ii**2 * value_norm2),\n'
      '              "order statistics (David & Nagaraja, Order Statistics, 3rd ed., §2.1): the k - 1 other slots kept "\n'
      '              "carry E[sum of the k - 1 largest ReLU(Z_j)^2] = s^2 M(N-1, k-1), with the queried slot kept")\n'
      '        .substitute(kernel_ii, key_norm2, "the stored slot is kept: sigma = ||k_i||^2", proof=key_norm2)\n'
      '        .step(d_v * TopKTailMoment(N - 1, k_active - 1) / (key_norm2 * value_norm2), "cancel")',
      '    kept = key_norm2 * TopKTailMoment(N - 1, k_active) / (N - 1)\n'
      '    return (\n'
      '        inverse_snr_general()\n'
      '        .cite(kept * (N - 1) * d_v / (kernel_ii**2 * value_norm2),\n'
      '              "order statistics (David & Nagaraja, Order Statistics, 3rd ed., §2.1): the k - 1 other slots kept "\n'
      '              "carry E[sum of the k - 1 largest ReLU(Z_j)^2] = s^2 M(N-1, k-1), with the queried slot kept")\n'
      '        .substitute(kernel_ii, key_norm2, "the stored slot is kept: sigma = ||k_i||^2", proof=key_norm2)\n'
      '        .step(d_v * TopKTailMoment(N - 1, k_active) / (key_norm2 * value_norm2), "cancel")',
      "off-by-one", "top-k crosstalk keeps the k largest other slots, not k - 1 (consistent chain)"),
    M("ffn.theory_gelu_sqrt_argument", "ffn", TF,
      "+ s2 / (sp.pi * (1 + s2) * sp.sqrt(1 + 2 * s2)))", "+ s2 / (sp.pi * (1 + s2) * sp.sqrt(1 + s2)))",
      "wrong constant", "GELU second moment with sqrt(1 + s^2) for sqrt(1 + 2 s^2)"),
    M("ffn.theory_normal_cdf_missing_sqrt2", "ffn", TF,
      "return (1 + sp.erf(x / sp.sqrt(2))) / 2", "return (1 + sp.erf(x)) / 2",
      "missing normalisation", "Phi(x) = (1 + erf(x))/2, the 1/sqrt 2 missing"),
    M("ffn.reduced_signal_not_squared", "ffn", FN,
      "scale = d_v / (float(u(np.float64(key_norm2))) ** 2 * value_norm2)",
      "scale = d_v / (float(u(np.float64(key_norm2))) * value_norm2)",
      "wrong constant", "FFN SNR^-1 divides by h_0 instead of h_0^2"),
    M("ffn.reduced_N_not_N_minus_1", "ffn", FN,
      "h = u(s * rng.standard_normal((n, N - 1)))", "h = u(s * rng.standard_normal((n, N)))",
      "off-by-one", "N other slots simulated instead of N - 1"),
    M("ffn.gelu_erf_argument", "ffn", FN,
      "return z * ndtr(z)", "return z * ndtr(z / np.sqrt(2.0))",
      "wrong constant", "GELU as z Phi(z / sqrt 2) (the erf form's sqrt 2 applied twice)"),
    M("ffn.threshold_absolute_units", "ffn", FN,
      "kept = np.where(z > a * s, z * z, 0.0)", "kept = np.where(z > a, z * z, 0.0)",
      "dropped factor", "sparsity threshold a instead of a ||k_0||"),
    M("ffn.topk_keeps_k_others", "ffn", FN,
      "others = h[:, :k - 1]", "others = h[:, :k]",
      "off-by-one", "top-k keeps k other slots besides the stored one"),
    M("ffn.topk_active_N", "ffn", FN,
      "return int(round((N - 1) * (1.0 - ndtr(a)))) + 1", "return int(round(N * (1.0 - ndtr(a)))) + 1",
      "off-by-one", "top-k size from N Q(a) instead of (N - 1) Q(a)",
      survives_because=(
          'gap: at all four default points of ffn.sparsity.topk, round(N Q(a)) and round((N - 1) Q(a)) coincide (5,'
          ' 10, 4 and 20 at N = 33, 65, 65, 129), so the simulation keeps the same k and no output changes. The '
          "claim's own sympy count (_topk_count) is independent of numerics.ffn.topk_active, so one point where the"
          ' two roundings differ (e.g. N = 35, a = 1.0: 34 Q = 5.39 -> 5 but 35 Q = 5.55 -> 6) would turn this slip'
          ' into the k_plus_one near miss and kill it: eval at N = 35, d = 16, d_v = 8, key_norm2 = 16, value_norm2'
          ' = 12, a = 1.0 fails the mutant at z = 51.7 and passes the unmutated code (z = -2.4). Missing check: a '
          'default point whose (N - 1) Q(a) has fractional part in [1/2 - Q(a), 1/2). Killed by '
          'tests/test_ffn.py::test_topk_count_in_theory_matches_the_simulation.'),
    ),
    M("ffn.exp_weight_ignores_tilt", "ffn", FN,
      "slope, offset = 2.0 * beta * (1.0 - tilt),", "slope, offset = 2.0 * beta,",
      "importance weight", "exp-activation log weight drops the -lambda term of the likelihood ratio"),

    # --- update ---------------------------------------------------------------------------------
    M("update.theory_decay_penalty_not_halved", "update", TU,
      "return -(v.T * S * k)[0, 0] + (1 - gamma_s) / 2 * frob,", "return -(v.T * S * k)[0, 0] + (1 - gamma_s) * frob,",
      "dropped factor", "decay rule's loss without the 1/2 on the Frobenius penalty"),
    M("update.theory_parallel_inclusive_mask", "update", TU,
      "(K * K.T).multiply_elementwise(G - sp.eye(T))", "(K * K.T).multiply_elementwise(G)",
      "mask", "matrix form's solve uses Gamma (diagonal included) instead of Gamma^-"),
    M("update.theory_gate_product_range", "update", TU,
      "G[i, j] = sp.Mul(*[gates[s] for s in range(j + 1, i + 1)])", "G[i, j] = sp.Mul(*[gates[s] for s in range(j, i + 1)])",
      "off-by-one", "decay mask Gamma_ij includes the gate of token j"),
    M("update.theory_contraction_not_rooted", "update", TU,
      "return sp.sqrt(contraction_factor(2).result)", "return contraction_factor(2).result",
      "missing normalisation", "contraction factor reported squared, (1 - x)^2 for |1 - x|"),
    M("update.theory_amplification_T_minus_1", "update", TU,
      "return sp.Piecewise((2, sp.Eq(pattern_s, 0)), (T_s, True))", "return sp.Piecewise((2, sp.Eq(pattern_s, 0)), (T_s - 1, True))",
      "off-by-one", "predecessor-attention amplification T - 1 instead of T"),
    M("update.theory_recombined_shares_swapped", "update", TU,
      "out = {j: sigma(z_prev - z_intra) * w for j, w in _softmax_row(e, t, prev).items()}",
      "out = {j: sigma(z_intra - z_prev) * w for j, w in _softmax_row(e, t, prev).items()}",
      "sign", "earlier-chunk block re-weighted by the intra share"),
    M("update.theory_fast_inverse_one_factor_short", "update", TU,
      "    for j in range(1, matrix_m):\n", "    for j in range(1, matrix_m - 1):\n",
      "off-by-one", "symbolic fast-inverse check stops one factor early"),
    M("update.gate_outside_delta", "update", REC,
      "return alpha * (S - beta * np.outer(S @ k, k)) + beta * np.outer(v, k)",
      "return alpha * S - beta * np.outer(S @ k, k) + beta * np.outer(v, k)",
      "order of operations", "gated delta step applies alpha to S only, not to the erase term"),
    M("update.exp_kernel_tau_multiplied", "update", KER,
      "lambda X, Y: np.exp((X / tau) @ Y.T), lambda X, Y: (X / tau) @ Y.T)",
      "lambda X, Y: np.exp((X * tau) @ Y.T), lambda X, Y: (X * tau) @ Y.T)",
      "shared-helper scaling", "the shared exp kernel multiplies by the temperature"),
    M("update.deltaformer_alpha_on_correction", "update", REC,
      "U[t] = alpha[t] * V[t] - beta[t] * (a1 @ U[:t])", "U[t] = alpha[t] * (V[t] - beta[t] * (a1 @ U[:t]))",
      "order of operations", "DeltaFormer token loop scales the correction by alpha too"),
    M("update.decay_mask_includes_gate_j", "update", PAR,
      "diff = L[:, None] - L[None, :]", "diff = L[:, None] - L[None, :] + np.log(alpha)[None, :]",
      "off-by-one", "parallel decay mask prod_{s=j}^t instead of prod_{s=j+1}^t"),
    M("update.deltaformer_parallel_inclusive_first_stage", "update", PAR,
      'strict = _causal_block(T, strict=variant != "causal_first_stage")', "strict = _causal_block(T, strict=False)",
      "mask", "DeltaFormer matrix form's first stage sees i = t (tril k=0 for k=-1)"),
    M("update.chunked_decay_after_write", "update", CHU,
      "                if decay is not None:\n                    S *= decay[c]\n                S += u.T @ k_end[c]\n",
      "                S += u.T @ k_end[c]\n                if decay is not None:\n                    S *= decay[c]\n",
      "order of operations", "chunked carry decays the state after adding the chunk's writes"),
    M("update.chunked_correction_ungated_keys", "update", CHU,
      "return _unit_lower_inverses(A), b[g0:g1] * v[g0:g1], b[g0:g1] * gk[g0:g1]",
      "return _unit_lower_inverses(A), b[g0:g1] * v[g0:g1], b[g0:g1] * k[g0:g1]",
      "dropped factor", "incoming-state correction uses keys without the cumulative gates"),
    M("update.blocked_inverse_sign", "update", CHU,
      "Xd[..., s:, :s] = -(Xd[..., s:, s:] @ (Ad[..., s:, :s] @ Xd[..., :s, :s]))",
      "Xd[..., s:, :s] = Xd[..., s:, s:] @ (Ad[..., s:, :s] @ Xd[..., :s, :s])",
      "sign", "blocked unit-lower inverse: lower-left block without the minus sign"),
    M("update.deltaformer_chunked_cross_term_no_beta", "update", CHU,
      "alpha[sl][:, None] * V[sl] - b * prev_part", "alpha[sl][:, None] * V[sl] - prev_part",
      "dropped factor", "chunked DeltaFormer's earlier-chunk correction without beta"),
    M("update.epoch_map_composed_backwards", "update", FP,
      "P, c = P @ step, c @ step + beta * np.outer(v, k)", "P, c = step @ P, c @ step + beta * np.outer(v, k)",
      "order of operations", "epoch map multiplies the step factors in reverse order"),
    M("update.decay_energy_write_before_decay", "update", FP,
      "        S *= gamma\n        S += rng.standard_normal((trials, d_v, 1)) * rng.standard_normal((trials, 1, d_k))\n",
      "        S += rng.standard_normal((trials, d_v, 1)) * rng.standard_normal((trials, 1, d_k))\n        S *= gamma\n",
      "order of operations", "decayed memory simulated as S_t = gamma (S_{t-1} + v_t k_t^T)"),
    M("update.fast_inverse_starts_at_A", "update", TI,
      "    Y = A @ A\n", "    Y = A\n",
      "off-by-one", "repeated squaring starts from A instead of A^2 (exponents off by one)"),
    M("update.strictly_lower_keeps_diagonal", "update", TI,
      "mask = np.tril(np.ones((c, c), dtype=bool), k=-1)", "mask = np.tril(np.ones((c, c), dtype=bool), k=0)",
      "mask", "random 'strictly' lower-triangular A keeps its diagonal (tril k=0 for k=-1)"),

    # --- expressivity ---------------------------------------------------------------------------
    M("expressivity.round_kernel_floor", "expressivity", XN,
      "return np.rint(scores)", "return np.floor(scores)",
      "wrong constant", "rounding kernel implemented as floor"),
    M("expressivity.readout_before_swap_token", "expressivity", XN,
      "prefixes = n + 1 + np.arange(len(swaps))", "prefixes = n + np.arange(len(swaps))",
      "off-by-one", "read-out after swap s taken before the swap token is written"),
    M("expressivity.violation_mask_includes_diagonal", "expressivity", XN,
      "upper = np.triu(np.ones((n, n), dtype=bool), 1)", "upper = np.triu(np.ones((n, n), dtype=bool), 0)",
      "mask", "violation count includes the diagonal |k_i^T k_i| = 1 (triu k=0 for k=1)"),
    M("expressivity.gamma_scale_inverted", "expressivity", XN,
      "R = rng.gamma(m, 2.0 / (1.0 + 2.0 * theta), size=trials)", "R = rng.gamma(m, 2.0 * (1.0 + 2.0 * theta), size=trials)",
      "distribution parameter", "tilted proposal drawn with scale 2 (1 + 2 theta) (rate and scale confused)"),
    M("expressivity.chi2_dof_d_not_d_minus_1", "expressivity", XN,
      "    m = (d - 1) / 2\n    theta = _tilt(epsilon, m)", "    m = d / 2\n    theta = _tilt(epsilon, m)",
      "distribution parameter", "residual norm R ~ chi^2_d instead of chi^2_{d-1}",
      survives_because=(
          'gap: with m = d/2 the tilted draws estimate p_{d+1} at every ladder dimension, i.e. log n*(d) is shifted'
          ' by one dimension. In the fit a + c d + g ln d + b/d that moves a by c and changes only O(1/d) terms, so'
          ' the growth rate c (the only output expressivity.dimension.coherence_exponent checks) is unchanged '
          'within its resolution, and the fitted g is reported but not checked. The per-dimension values are wrong '
          'and never compared with the exact finite-size p_d = I_{1-eps^2}((d-1)/2, 1/2) that theory already '
          "provides. Missing check: compare each ladder dimension's estimated log p_d (or log n*(d)) with the exact"
          ' value within its SE. Killed by tests/test_expressivity.py '
          '(test_reduced_route_matches_direct_pair_counts, test_reduced_route_matches_the_exact_tail_far_out).'),
    ),
    M("expressivity.one_sided_tail", "expressivity", XN,
      "theta * R + math.log(2.0) + log_ndtr(", "theta * R + log_ndtr(",
      "dropped factor", "P(|g| >= t) as Phi(-t), the factor 2 of the two-sided tail dropped",
      survives_because=(
          'gap: the one-sided tail halves every p_d, which shifts log n*(d) ~ (1/2) log(8/p_d) by about (1/2) ln 2 '
          'at every ladder dimension; the intercept a of the fit absorbs it, so the growth rate c (the only checked'
          ' output of expressivity.dimension.coherence_exponent) does not move beyond its resolution. The '
          'per-dimension p_d are wrong by a factor 2 and never compared with the exact I_{1-eps^2}((d-1)/2, 1/2). '
          'Missing check: the per-dimension comparison with the exact p_d proposed for '
          'expressivity.chi2_dof_d_not_d_minus_1. Killed by tests/test_expressivity.py '
          '(test_reduced_route_matches_direct_pair_counts, test_reduced_route_matches_the_exact_tail_far_out).'),
    ),
    M("expressivity.rate_fit_without_log_term", "expressivity", XN,
      "return np.linalg.pinv(np.column_stack([np.ones_like(x), x, np.log(x), 1.0 / x]))",
      "return np.linalg.pinv(np.column_stack([np.ones_like(x), x, 1.0 / x]))",
      "dropped term", "growth-rate fit omits the g ln d term of the expansion"),
    M("expressivity.householder_key_not_normalised", "expressivity", XN,
      "k[i], k[j] = 1 / math.sqrt(2), -1 / math.sqrt(2)", "k[i], k[j] = 1.0, -1.0",
      "missing normalisation", "swap key e_i - e_j without the 1/sqrt 2"),
    M("expressivity.closure_wrong_axis", "expressivity", XN,
      "children = [np.flatnonzero(A[:, j]) for j in range(n)]", "children = [np.flatnonzero(A[j, :]) for j in range(n)]",
      "wrong axis", "DFS follows parents instead of children"),
    M("expressivity.dag_self_loops", "expressivity", XN,
      "return np.tril(rng.random((n, n)) < edge_prob, -1).astype(float)",
      "return np.tril(rng.random((n, n)) < edge_prob, 0).astype(float)",
      "mask", "random DAG drawn with tril k=0 (self-loops) for k=-1"),
    M("expressivity.theory_rate_halved", "expressivity", TX,
      "return -sp.log(1 - eps**2) / 4", "return -sp.log(1 - eps**2) / 2",
      "dropped factor", "coherence growth rate -(1/2) ln(1 - eps^2) for -(1/4) ln(1 - eps^2)"),
    M("expressivity.theory_violation_dof", "expressivity", TX,
      "return sp.betainc_regularized((d - 1) / 2, _HALF, 0, 1 - eps**2)",
      "return sp.betainc_regularized(d / 2, _HALF, 0, 1 - eps**2)",
      "distribution parameter", "violation probability with Beta parameter d/2 for (d - 1)/2"),
    M("expressivity.theory_first_moment_pairs", "expressivity", TX,
      "return (1 + sp.sqrt(1 + 8 / p)) / 2", "return (1 + sp.sqrt(1 + 4 / p)) / 2",
      "wrong bound", "exact n* solves n(n - 1) p = 1 instead of n(n - 1)/2 p = 1 (feeds the extrapolation error "
      "bound; retargeted to theory.expressivity.first_moment_size when that formula was factored out of "
      "log_first_moment_size, after this mutant's first run survived)"),
    M("expressivity.theory_swap_key_sum", "expressivity", TX,
      "    w = keys[1] - keys[0]\n", "    w = keys[1] + keys[0]\n",
      "sign", "delta-rule swap token with key k_1 + k_0"),
    M("expressivity.theory_householder_beta_one", "expressivity", TX,
      "householder = D(r, c) - 2 * ((D(r, i) - D(r, j)) / sp.sqrt(2))",
      "householder = D(r, c) - ((D(r, i) - D(r, j)) / sp.sqrt(2))",
      "dropped factor", "swap written I - k k^T (beta = 1) instead of I - 2 k k^T"),
    M("expressivity.theory_reachability_series_short", "expressivity", TX,
      "series = sum((A**k for k in range(size)), sp.zeros(size, size))",
      "series = sum((A**k for k in range(size - 1)), sp.zeros(size, size))",
      "off-by-one", "path-count series stops at A^{n-2}"),

    # --- context --------------------------------------------------------------------------------
    M("context.theory_rho_isserlis_d_k_plus_1", "context", TC,
      "rho = 1 - 2 * beta * s2 + beta**2 * s2**2 * (d_k + 2)", "rho = 1 - 2 * beta * s2 + beta**2 * s2**2 * (d_k + 1)",
      "wrong constant", "mean-square contraction with d_k + 1 for d_k + 2 (Isserlis)"),
    M("context.theory_noise_term_missing_s2", "context", TC,
      "c = beta**2 * sigma2 * d_v * d_k * s2", "c = beta**2 * sigma2 * d_v * d_k",
      "dropped factor", "noise injection of the delta rule without the key scale s^2"),
    M("context.theory_transient_exponent", "context", TC,
      "return rho**T * e0 + c * (1 - rho**T) / (1 - rho)", "return rho**(T - 1) * e0 + c * (1 - rho**T) / (1 - rho)",
      "off-by-one", "transient rho^{T-1} e_0 instead of rho^T e_0"),
    M("context.theory_key_std_for_variance", "context", TC,
      "return Normal(name, 0, sp.sqrt(s2))", "return Normal(name, 0, s2)",
      "distribution parameter", "sympy.stats key coordinate given variance where it takes the standard deviation"),
    M("context.theory_least_squares_scale_dropped", "context", TC,
      ".assume(sigma2 * d_v * d_k * E_inv_chi2 / s2,", ".assume(sigma2 * d_v * d_k * E_inv_chi2,",
      "dropped factor", "least-squares error without the 1/s^2 of the key scale (the assumed step)"),
    M("context.theory_extrapolation_gap_in_T", "context", TC,
      "x = [sp.Rational(1, int(n)) for n in sizes]", "x = [sp.Integer(int(n)) for n in sizes]",
      "wrong bound", "finite-size bias of the T SNR limit extrapolated in T instead of 1/T"),
    M("context.theory_mean_memory_exponent", "context", TC,
      "    in_q = 1 - q**T\n", "    in_q = 1 - q**(T + 1)\n",
      "off-by-one", "mean memory 1 - q^{T+1} instead of 1 - q^T"),
    M("context.linear_snr_T_not_T_minus_1", "context", CN,
      "crosstalk = rng.chisquare(T - 1, size=n)", "crosstalk = rng.chisquare(T, size=n)",
      "off-by-one", "T interfering pairs instead of T - 1"),
    M("context.linear_snr_signal_not_squared", "context", CN,
      "signal[start:start + n] = a * a\n        noise", "signal[start:start + n] = a\n        noise",
      "wrong constant", "signal ||c v_i||^2 with c = ||k_i|| (norm not squared)"),
    M("context.linear_limit_counts_stored_pair", "context", CN,
      "previous = 1  # the stored pair itself", "previous = 0  # the stored pair itself",
      "off-by-one", "the growing stream's first increment counts the stored pair as crosstalk",
      survives_because=(
          'gap: with previous = 0 the growing stream counts T_m interfering pairs at size T_m instead of T_m - 1, '
          'so T_m SNR(T_m) = d_k + 2 exactly at every size and the extrapolation lands on the same limit d_k + 2, '
          'the only output context.additive.linear_snr_decay checks. The finite-size approach (T SNR = (d_k + 2) '
          'T/(T - 1), coefficient d_k + 2 of 1/T) disappears, but it is only reported (diagnostic '
          "slope_in_1_over_T), and the claim's note that context.additive.linear_snr_finite rejects a T for T - 1 "
          'slip covers measure_linear_snr, not this function. Missing check: compare the per-size values T_m '
          'SNR(T_m) with the exact (d_k + 2) T_m/(T_m - 1), or the fitted 1/T coefficient with d_k + 2. Killed by '
          'tests/test_context.py::test_linear_snr_limit_reports_the_sizes_and_a_slope_near_the_limit.'),
    ),
    M("context.linear_limit_extrapolates_in_T", "context", CN,
      "w = extrapolation_weights(1.0 / sizes)", "w = extrapolation_weights(sizes)",
      "wrong variable", "T SNR(T) extrapolated in T instead of 1/T"),
    M("context.exp_snr_weight_sign", "context", CN,
      "- mu * z + 0.5 * mu * mu", "- mu * z - 0.5 * mu * mu",
      "importance weight", "tilted-normal log weight with -mu^2/2 instead of +mu^2/2"),
    M("context.delta_S0_unit_variance", "context", CN,
      "    S0 = rng.standard_normal((n, d_v, d_k)) / np.sqrt(d_k)\n    S = np.zeros_like(S0)",
      "    S0 = rng.standard_normal((n, d_v, d_k))\n    S = np.zeros_like(S0)",
      "distribution parameter", "S_0 entries N(0, 1) instead of N(0, 1/d_k) in the delta-rule streams"),
    M("context.delta_key_scale_variance_for_std", "context", CN,
      "scale, sigma = np.sqrt(key_scale2), np.sqrt(noise2)", "scale, sigma = key_scale2, np.sqrt(noise2)",
      "distribution parameter", "keys scaled by s^2 instead of s"),
    M("context.least_squares_error_drops_d_v", "context", CN,
      "y[start:start + n] = noise2 * d_v * np.trace(", "y[start:start + n] = noise2 * np.trace(",
      "dropped factor", "least-squares error without the factor d_v"),
    M("context.self_influence_skips_first_token", "context", CN,
      "for t in range(T - 1, -1, -1):", "for t in range(T - 1, 0, -1):",
      "off-by-one", "backward accumulation of the self-influence stops before the first token"),
)


# Mutants written by the expressivity section's engineer while hardening it (with knowledge of the
# checks), kept as a second catalogue: bench/mutation.py --catalogue section.
SECTION_MUTANTS: tuple[Mutant, ...] = (
    M('expressivity.section_t_rounding_margin_1_8_1_4', "expressivity", 'theory/expressivity.py',
      'COHERENCE_BOUND = sp.Rational(1, 8)',
      'COHERENCE_BOUND = sp.Rational(1, 4)',
      "section author", 'rounding margin 1/8 -> 1/4'),
    M('expressivity.section_t_coherence_rate_halved', "expressivity", 'theory/expressivity.py',
      'return -sp.log(1 - eps**2) / 4\n',
      'return -sp.log(1 - eps**2) / 8\n',
      "section author", 'coherence rate halved'),
    M('expressivity.section_t_coherence_rate_eps_2_4_gaussian_tail', "expressivity", 'theory/expressivity.py',
      'return -sp.log(1 - eps**2) / 4\n',
      'return eps**2 / 4\n',
      "section author", 'coherence rate eps^2/4 (Gaussian tail)'),
    M('expressivity.section_t_incomplete_beta_d_1_2_d_2', "expressivity", 'theory/expressivity.py',
      'sp.betainc_regularized((d - 1) / 2, _HALF, 0, 1 - eps**2)',
      'sp.betainc_regularized(d / 2, _HALF, 0, 1 - eps**2)',
      "section author", 'incomplete beta (d - 1)/2 -> d/2'),
    M('expressivity.section_t_incomplete_beta_at_1_eps_not_1_eps_2', "expressivity", 'theory/expressivity.py',
      'sp.betainc_regularized((d - 1) / 2, _HALF, 0, 1 - eps**2)',
      'sp.betainc_regularized((d - 1) / 2, _HALF, 0, 1 - eps)',
      "section author", 'incomplete beta at 1 - eps (not 1 - eps^2)'),
    M('expressivity.section_t_swap_key_k_1_k_0', "expressivity", 'theory/expressivity.py',
      '    w = keys[1] - keys[0]\n    S_new',
      '    w = keys[1] + keys[0]\n    S_new',
      "section author", 'swap key k_1 + k_0'),
    M('expressivity.section_t_label_recorded_before_the_swap', "expressivity", 'theory/expressivity.py',
      '    arrangement[0], arrangement[1] = arrangement[1], arrangement[0]\n',
      '',
      "section author", 'label recorded before the swap'),
    M('expressivity.section_t_n_2_2_pairs_in_the_violation_count', "expressivity", 'theory/expressivity.py',
      '.substitute(sp.binomial(n, 2), n * (n - 1) / 2,',
      '.substitute(sp.binomial(n, 2), n**2 / 2,',
      "section author", 'n^2/2 pairs in the violation count'),
    M('expressivity.section_t_rate_bound_without_the_next_order_bound_0', "expressivity", 'theory/expressivity.py',
      'max(abs(first - slope(True)), RICHARDSON_FLOOR * abs(first))',
      '0.0 * abs(first)',
      "section author", 'rate bound without the next order (bound 0)'),
    M('expressivity.section_t_householder_beta_2_1', "expressivity", 'theory/expressivity.py',
      'householder = D(r, c) - 2 * ',
      'householder = D(r, c) - 1 * ',
      "section author", 'Householder beta 2 -> 1'),
    M('expressivity.section_t_householder_eigenvalue_1_2_beta', "expressivity", 'theory/expressivity.py',
      '.step((lam - 1) ** 2 * (lam - 1 + beta), ',
      '.step((lam - 1) ** 2 * (lam - 1 + 2 * beta), ',
      "section author", 'Householder eigenvalue 1 - 2 beta'),
    M('expressivity.section_t_reachability_series_one_power_short', "expressivity", 'theory/expressivity.py',
      'series = sum((A**k for k in range(size)), ',
      'series = sum((A**k for k in range(size - 1)), ',
      "section author", 'reachability series one power short'),
    M('expressivity.section_n_round_kernel_truncates_toward_0', "expressivity", 'numerics/expressivity.py',
      '        return np.rint(scores)',
      '        return np.trunc(scores)',
      "section author", 'round kernel truncates toward 0'),
    M('expressivity.section_n_round_kernel_threshold_0_6', "expressivity", 'numerics/expressivity.py',
      '        return np.rint(scores)',
      '        return np.floor(scores + 0.4)',
      "section author", 'round kernel threshold 0.6'),
    M('expressivity.section_n_swap_key_sign_k_a_k_b', "expressivity", 'numerics/expressivity.py',
      'else keys[b] - keys[a]',
      'else keys[a] - keys[b]',
      "section author", 'swap key sign k_a - k_b (equivalent)',
      survives_because="equivalent: a swap key and its negative give identical read-outs (u and the kernel are odd in the key); a test pins it"),
    M('expressivity.section_n_swap_key_scaled_0_9_k_b_k_a', "expressivity", 'numerics/expressivity.py',
      'else keys[b] - keys[a]',
      'else 0.9 * keys[b] - keys[a]',
      "section author", 'swap key scaled 0.9 k_b - k_a'),
    M('expressivity.section_n_read_out_before_each_swap_off_by_one', "expressivity", 'numerics/expressivity.py',
      'prefixes = n + 1 + np.arange(len(swaps))',
      'prefixes = n + np.arange(len(swaps))',
      "section author", 'read-out before each swap (off by one)'),
    M('expressivity.section_n_u_recursion_sign', "expressivity", 'numerics/expressivity.py',
      'U[t] = V[t] - _weights(',
      'U[t] = V[t] + _weights(',
      "section author", 'u-recursion sign'),
    M('expressivity.section_n_task_label_at_position_1', "expressivity", 'numerics/expressivity.py',
      '                labels[b, t] = perm[0]\n    return',
      '                labels[b, t] = perm[1]\n    return',
      "section author", 'task label at position 1'),
    M('expressivity.section_n_task_read_out_at_k_1', "expressivity", 'numerics/expressivity.py',
      'np.argmax(read_outs[:, 0], axis=-1)',
      'np.argmax(read_outs[:, 1], axis=-1)',
      "section author", 'task read-out at k_1'),
    M('expressivity.section_n_householder_beta_2_1_9', "expressivity", 'numerics/expressivity.py',
      '1.0 if variant == "beta_one" else 2.0)',
      '1.0 if variant == "beta_one" else 1.9)',
      "section author", 'Householder beta 2 -> 1.9'),
    M('expressivity.section_n_householder_key_not_normalised', "expressivity", 'numerics/expressivity.py',
      'k[i], k[j] = 1 / math.sqrt(2), -1 / math.sqrt(2)',
      'k[i], k[j] = 1.0, -1.0',
      "section author", 'Householder key not normalised'),
    M('expressivity.section_n_householder_product_order', "expressivity", 'numerics/expressivity.py',
      'S = S @ householder_transition(n, a, b, beta)',
      'S = householder_transition(n, a, b, beta) @ S',
      "section author", 'Householder product order'),
    M('expressivity.section_n_keys_in_r_d_1_in_the_violation_count', "expressivity", 'numerics/expressivity.py',
      'K = rng.standard_normal((m, n, d))',
      'K = rng.standard_normal((m, n, d - 1))',
      "section author", 'keys in R^(d-1) in the violation count'),
    M('expressivity.section_n_keys_not_normalised_in_the_violation_count', "expressivity", 'numerics/expressivity.py',
      '        K /= np.linalg.norm(K, axis=2, keepdims=True)\n',
      '',
      "section author", 'keys not normalised in the violation count'),
    M('expressivity.section_n_diagonal_pairs_counted', "expressivity", 'numerics/expressivity.py',
      'upper = np.triu(np.ones((n, n), dtype=bool), 1)',
      'upper = np.triu(np.ones((n, n), dtype=bool), 0)',
      "section author", 'diagonal pairs counted'),
    M('expressivity.section_n_strict_in_the_violation_count', "expressivity", 'numerics/expressivity.py',
      'np.count_nonzero((G >= epsilon) & upper',
      'np.count_nonzero((G > epsilon) & upper',
      "section author", 'strict >= -> > in the violation count (equivalent)',
      survives_because="equivalent: ties |k_i^T k_j| = eps have probability zero"),
    M('expressivity.section_n_reduced_form_chi_2_d_not_d_1', "expressivity", 'numerics/expressivity.py',
      '    m = (d - 1) / 2\n    theta',
      '    m = d / 2\n    theta',
      "section author", 'reduced form chi^2_d (not d - 1)'),
    M('expressivity.section_n_reduced_form_threshold_eps_2_not_eps_2_1_eps_2', "expressivity", 'numerics/expressivity.py',
      'a_prime = epsilon**2 / (1.0 - epsilon**2)',
      'a_prime = epsilon**2',
      "section author", 'reduced form threshold eps^2 (not eps^2/(1 - eps^2))'),
    M('expressivity.section_n_likelihood_ratio_sign', "expressivity", 'numerics/expressivity.py',
      '-m * math.log1p(2.0 * theta) + theta * R',
      '-m * math.log1p(2.0 * theta) - theta * R',
      "section author", 'likelihood ratio sign'),
    M('expressivity.section_n_rate_fit_without_the_ln_d_term', "expressivity", 'numerics/expressivity.py',
      'np.column_stack([np.ones_like(x), x, np.log(x), 1.0 / x])',
      'np.column_stack([np.ones_like(x), x, 0 * x, 1.0 / x])',
      "section author", 'rate fit without the ln d term'),
    M('expressivity.section_n_n_taken_as_sqrt_2_p', "expressivity", 'numerics/expressivity.py',
      'return log_s + math.log1p(s_inv) - math.log(2.0), ',
      'return log_s - math.log(2.0), ',
      "section author", 'n* taken as sqrt(2/p)'),
    M('expressivity.section_n_dag_with_self_loops', "expressivity", 'numerics/expressivity.py',
      'np.tril(rng.random((n, n)) < edge_prob, -1)',
      'np.tril(rng.random((n, n)) < edge_prob, 0)',
      "section author", 'DAG with self-loops'),
    M('expressivity.section_n_orthonormal_keys_not_orthogonalised', "expressivity", 'numerics/expressivity.py',
      '    keys = Qm.T\n',
      '    keys = unit_rows(rng.standard_normal((n, d)))\n',
      "section author", 'orthonormal keys not orthogonalised'),
    M('expressivity.section_n_repeated_token_beta_up_to_1_2', "expressivity", 'numerics/expressivity.py',
      'rng.uniform(0.0, 1.0, size=layers - 1)',
      'rng.uniform(0.0, 1.2, size=layers - 1)',
      "section author", 'repeated-token beta up to 1.2'),
)
