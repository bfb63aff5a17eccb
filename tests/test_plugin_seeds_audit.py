"""Mutation audit of the pytest plugin and of the seeding (round eight): the behaviours no earlier test pinned.

Each test names the slip it catches. The plugin runs in a subprocess as in tests/test_plugin.py, on a
downstream claim or a collection only, so each run takes a few seconds.
"""

import hashlib
import textwrap

import numpy as np
import pytest

from proofs_check.seeds import DEFAULT_SEED, batch_rng, point_rng, point_seed
from test_plugin import _pytest  # pytest in a fresh downstream project directory, the plugin loaded


# --- the plugin ------------------------------------------------------------------------------------------------

def test_root_seed_zero_is_a_seed_and_implies_the_flag(tmp_path):
    """'--amverify-seed 0' alone selects the ledger with root seed 0. Slips: the implying options tested by
    truthiness (seed 0 selected nothing and passed), or 'if not seed' (seed 0 replaced by the default)."""
    run = _pytest(tmp_path, "--amverify-seed", "0", "--collect-only")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "amverify: mode quick, seed 0\n" in run.stdout
    assert "<SymbolicItem basics.linear.overcomplete_noise_floor[symbolic]>" in run.stdout


def test_a_negative_root_seed_is_a_usage_error(tmp_path):
    """'--amverify-seed -1' is refused before any item runs, as 'amverify check --seed -1' is (it used to be
    accepted, and every point item then errored with a traceback from the seeding)."""
    run = _pytest(tmp_path, "--amverify-claim", "basics.linear.overcomplete_noise_floor", "--amverify-seed", "-1")
    assert run.returncode == 4, run.stdout + run.stderr
    assert "expected a non-negative integer, got '-1'" in run.stderr
    assert "amverify::" not in run.stdout


def test_selection_keeps_the_projects_tests_and_intersects_claims_with_sections(tmp_path):
    """The ledger items are added to the project's own tests; --amverify-claim and --amverify-section narrow
    together; a statistical claim of one point has no [pooled] item. Slips: the items replacing the project's
    tests, the section ignored once ids are given, a [pooled] item (always skipped) for a single point."""
    (tmp_path / "test_own.py").write_text("def test_own():\n    assert True\n")
    run = _pytest(tmp_path, "--amverify-claim", "basics.linear.overcomplete_noise_floor", "--amverify-claim",
                  "capacity.linear.capacity_slope", "--amverify-section", "capacity", "--collect-only", "-q")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "test_own.py::test_own" in out
    assert "amverify::capacity.linear.capacity_slope[symbolic]" in out
    assert "basics." not in out
    assert "[pooled]" not in out


def test_an_unknown_section_is_a_usage_error(tmp_path):
    """A mistyped section stops the run (exit 4) and lists the sections. Slip: it selected nothing and passed."""
    run = _pytest(tmp_path, "--amverify-section", "capacty")
    assert run.returncode == 4, run.stdout + run.stderr
    assert "--amverify-section 'capacty' is not one of" in run.stdout + run.stderr


def test_a_cited_claim_has_only_its_record_skipped(tmp_path):
    """A cited fact has one [symbolic] item, skipped: recorded, not verified. Slips: point items collected for
    it (its grids are empty: a KeyError stopped the collection), or the record counted as a pass."""
    run = _pytest(tmp_path, "--amverify-claim", "expressivity.circuits.transformer_tc0", "-v")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "amverify::expressivity.circuits.transformer_tc0[symbolic] SKIPPED" in run.stdout
    assert "1 skipped" in run.stdout and "passed" not in run.stdout


# one claim whose derivation cannot be built, one whose measurement raises: both must fail, never pass
BROKEN_CLAIMS = textwrap.dedent('''
    import sympy as sp
    from numerics.estimate import exact_value
    from proofs_check.ledger import (Claim, Estimand, Kind, NegativeControl, Param, Provenance, all_claims,
                                     register)
    from theory.derivation import Derivation

    x = sp.Symbol("x", positive=True)
    all_claims()


    def raises(rng, x):
        raise RuntimeError("the measurement broke")


    for cid, derivation, measure in [
            ("basics.demo.no_derivation", lambda: 1 / 0, lambda rng, x: exact_value(x, method="exact")),
            ("basics.demo.measure_raises", lambda: Derivation("x", x), raises)]:
        register(Claim(
            id=cid, statement="demo", anchor="none", provenance=Provenance.SUITE, kind=Kind.IDENTITY,
            estimand=Estimand("x", "none", "none"), params=(Param("x", 1, 10),), derivation=derivation,
            measure=measure, grids={m: ({"x": 3},) for m in ("quick", "default", "full")},
            negative_controls=(NegativeControl("zero", "0", prediction=lambda: 0 * x),), atol=1e-9))
''')


def test_a_broken_derivation_and_an_erroring_point_fail(tmp_path):
    """A derivation that cannot be built fails its [symbolic] item with the command that reproduces it; a point
    whose measurement raises fails its item (verdict error); every report is the claim's text, not a traceback.
    Slips: only status 'fail' checked for the derivation, only verdict 'fail' for a point, repr_failure bypassed."""
    (tmp_path / "conftest.py").write_text(BROKEN_CLAIMS)
    run = _pytest(tmp_path, "--amverify-claim", "basics.demo.no_derivation",
                  "--amverify-claim", "basics.demo.measure_raises")
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout
    assert "FAILED amverify::basics.demo.no_derivation[symbolic]" in out
    assert "basics.demo.no_derivation: derivation failed: ZeroDivisionError" in out
    assert "reproduce  amverify derive basics.demo.no_derivation" in out
    assert "FAILED amverify::basics.demo.measure_raises[x=3]" in out
    assert "RuntimeError: the measurement broke" in out
    assert "reproduce  amverify eval basics.demo.measure_raises x=3 --seed 20250526 --quick" in out
    # the report is the claim's numbers, not a traceback: also where the statement cannot be rendered (it used to
    # be a traceback of the ZeroDivisionError raised again by claim.latex() while describing the failure)
    assert "basics.demo.no_derivation at x=3 (mode quick, seed 20250526): error (ZeroDivisionError" in out
    assert "claim      (not rendered: ZeroDivisionError: division by zero)" in out
    assert "reproduce  amverify eval basics.demo.no_derivation x=3 --seed 20250526 --quick" in out
    assert "Traceback" not in out and "raise AmverifyFailure" not in out and "runtest" not in out


# a true identity whose control 'three' predicts 3: n/a at the quick grid's only point x = 3, rejected at x = 5
QUICK_IDLE_CLAIM = textwrap.dedent('''
    import sympy as sp
    from numerics.estimate import exact_value
    from proofs_check.ledger import (Claim, Estimand, Kind, NegativeControl, Param, Provenance, all_claims,
                                     register)
    from theory.derivation import Derivation

    x = sp.Symbol("x", positive=True)
    all_claims()
    register(Claim(
        id="basics.demo.quick_idle", statement="demo: the measurement equals x", anchor="none",
        provenance=Provenance.SUITE, kind=Kind.IDENTITY, estimand=Estimand("x", "none", "none"),
        params=(Param("x", 1, 10),), derivation=lambda: Derivation("x", x),
        measure=lambda rng, x: exact_value(1.0 * x, method="exact"),
        grids={"quick": ({"x": 3},), "default": ({"x": 5},), "full": ({"x": 5},)},
        negative_controls=(NegativeControl("zero", "0", prediction=lambda: 0 * x),
                           NegativeControl("three", "3", prediction=lambda: sp.Integer(3))), atol=1e-9))
''')


def test_the_controls_item_judges_the_grid_of_the_runs_mode(tmp_path):
    """In quick mode the [controls] item judges the quick grid, where 'three' applies nowhere, and its reproduce
    line carries --quick; in default mode 'three' applies and the item passes. Slips: the grid items judging the
    default grid whatever the mode, the mode flag left out of the check command."""
    (tmp_path / "conftest.py").write_text(QUICK_IDLE_CLAIM)
    run = _pytest(tmp_path, "--amverify-claim", "basics.demo.quick_idle")
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout
    assert "FAILED amverify::basics.demo.quick_idle[controls]" in out
    assert "negative control(s) three applied at no point of the quick grid" in out
    assert f"reproduce  amverify check basics.demo.quick_idle --seed {DEFAULT_SEED} --quick\n" in out
    assert "1 failed, 2 passed" in out
    run = _pytest(tmp_path, "--amverify-claim", "basics.demo.quick_idle", "--amverify-mode", "default")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASSED amverify::basics.demo.quick_idle[controls]" in run.stdout


def test_the_plugins_points_are_kept_by_regime():
    """Each regime point of a claim is checked on its own. Slip: the kept points keyed without the parameters
    (every point of a claim reused the first point's result, and the pooled item pooled one point k times)."""
    import sympy as sp

    from numerics.estimate import exact_value
    from proofs_check.ledger import Claim, Estimand, Kind, NegativeControl, Param, Provenance
    from proofs_check.pytest_plugin import _point
    from theory.derivation import Derivation

    x = sp.Symbol("x", positive=True)
    claim = Claim(
        id="basics.fake.kept_by_regime", statement="a test double", anchor="-", provenance=Provenance.SUITE,
        kind=Kind.IDENTITY, estimand=Estimand("x", "none", "none"), params=(Param("x", 1, 10),),
        derivation=lambda: Derivation("x", x), measure=lambda rng, x: exact_value(1.0 * x, method="exact"),
        grids={m: ({"x": 2}, {"x": 3}) for m in ("quick", "default", "full")},
        negative_controls=(NegativeControl("zero", "0", prediction=lambda: 0 * x),), atol=1e-9)
    assert _point(claim, {"x": 2}, "quick", 11).measured == 2.0
    assert _point(claim, {"x": 3}, "quick", 11).measured == 3.0


# --- the seeds -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("root", [1.5, 7.0, "7", -1, None, True])
def test_a_root_seed_must_be_a_non_negative_integer(root):
    """A float root is refused, not truncated (1.5 ran as 1); a negative one is named. Slips: the type check or the
    sign check dropped (SeedSequence's own error does not say which argument was wrong)."""
    with pytest.raises(ValueError, match="root seed must be a non-negative integer"):
        point_seed(root, "x.y.z", {"N": 3})


def test_a_numpy_integer_is_a_root_seed():
    assert point_seed(np.int64(7), "x.y.z", {"N": 3}).entropy == 7


def _spec_seed(root, claim_id, canonical, *key):
    """The documented seed, built here from hashlib and numpy alone: blake2b-128 of 'claim|canonical params',
    read as four little-endian 32-bit words, then the replicate and (for a batch) the batch index."""
    digest = hashlib.blake2b(f"{claim_id}|{canonical}".encode(), digest_size=16).digest()
    words = tuple(int.from_bytes(digest[4 * i:4 * i + 4], "little") for i in range(4))
    return np.random.SeedSequence(root, spawn_key=words + key)


def test_the_seed_of_a_point_and_of_a_batch_is_the_documented_one():
    """The streams are fixed by the seeding's specification, so a result (and a printed reproduce line) from an
    earlier release reproduces. Slips that keep streams distinct but change every number: the words read
    big-endian, the batch index before the replicate, batch b drawing batch b + 1's stream, batch_rng passing
    batch and replicate in each other's place."""
    claim, params = "capacity.linear.inverse_snr_ratio", {"d_v": 4, "N": 16, "d_k": 4}
    canonical = '{"N":16,"d_k":4,"d_v":4}'
    for args, key in [((), (0,)), ((2,), (2,)), ((2, 3), (2, 3)), ((0, 0), (0, 0))]:
        assert point_seed(5, claim, params, *args).generate_state(4).tolist() == \
            _spec_seed(5, claim, canonical, *key).generate_state(4).tolist(), args
    draws = lambda seed: np.random.Generator(np.random.PCG64(seed)).standard_normal(3).tolist()  # noqa: E731
    assert batch_rng(5, claim, params, 3, replicate=1).standard_normal(3).tolist() == \
        draws(_spec_seed(5, claim, canonical, 1, 3))
    assert batch_rng(5, claim, params, 0).standard_normal(3).tolist() == draws(_spec_seed(5, claim, canonical, 0, 0))
    assert point_rng(5, claim, params, replicate=1).standard_normal(3).tolist() == \
        draws(_spec_seed(5, claim, canonical, 1))


def test_children_spawned_from_a_point_never_draw_a_batchs_stream():
    """`point_seed(...).spawn(n)` (or `point_rng(...).spawn`) gives children whose keys start at 2**31, so they
    cannot coincide with batch b's key (point key + (b,)), which numpy's default (children keyed 0, 1, ...)
    would; the point's own stream is unchanged by it. Nothing in the suite spawns today: this keeps it safe."""
    claim, params = "x.y.z", {"N": 3}
    children = point_seed(5, claim, params).spawn(3)
    batches = [point_seed(5, claim, params, batch=b) for b in range(3)]
    assert all(c.spawn_key[-1] >= 2**31 for c in children)
    assert {tuple(c.generate_state(4)) for c in children}.isdisjoint(tuple(b.generate_state(4)) for b in batches)
    spawned = point_rng(5, claim, params).spawn(1)[0].standard_normal(3).tolist()
    assert spawned != batch_rng(5, claim, params, 0).standard_normal(3).tolist()
    plain = np.random.SeedSequence(5, spawn_key=point_seed(5, claim, params).spawn_key)
    assert point_seed(5, claim, params).generate_state(4).tolist() == plain.generate_state(4).tolist()
