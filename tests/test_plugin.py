"""The pytest plugin: ``pytest --amverify`` in a downstream project, run in a subprocess like a user would."""

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]

# a deliberately wrong claim a downstream conftest registers: the measurement is 2x, theory says x
WRONG_CLAIM = textwrap.dedent('''
    import sympy as sp
    from numerics.estimate import exact_value
    from proofs_check.ledger import (Claim, Estimand, Kind, NegativeControl, Param, Provenance, all_claims,
                                     register)
    from theory.derivation import Derivation

    x = sp.Symbol("x", positive=True)
    all_claims()
    register(Claim(
        id="basics.demo.wrong_double", statement="demo: the measurement equals x", anchor="none",
        provenance=Provenance.SUITE, kind=Kind.IDENTITY, estimand=Estimand("x", "none", "none"),
        params=(Param("x", 1, 10),), derivation=lambda: Derivation("x", x),
        measure=lambda rng, x: exact_value(2.0 * x, method="doubles by design"),
        grids={m: ({"x": 3},) for m in ("quick", "default", "full")},
        negative_controls=(NegativeControl("zero", "0", prediction=lambda: 0 * x),), atol=1e-9))
''')


def _plugin_installed() -> bool:
    return any(ep.value == "proofs_check.pytest_plugin" for ep in metadata.entry_points(group="pytest11"))


def _pytest(tmp_path, *args):
    """Run pytest in a fresh downstream project directory (own pytest.ini, no tests of its own)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    plugin = [] if _plugin_installed() else ["-p", "proofs_check.pytest_plugin"]
    cmd = [sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider", "-rA", *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_entry_point_is_declared():
    """pyproject.toml registers the plugin as the pytest11 entry point 'amverify'."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["entry-points"]["pytest11"] == {"amverify": "proofs_check.pytest_plugin"}


def test_plugin_costs_nothing_without_the_flag(tmp_path):
    """Importing the plugin loads neither the ledger nor numpy/sympy; without --amverify no item is added."""
    probe = ("import sys, proofs_check.pytest_plugin; "
             "print(sorted(m for m in ('numpy', 'scipy', 'sympy', 'proofs_check.ledger') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    (tmp_path / "test_own.py").write_text("def test_own():\n    assert True\n")
    run = _pytest(tmp_path, "-v")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout and "amverify::" not in run.stdout


def test_one_test_per_claim_and_regime_point(tmp_path):
    """--amverify-section gives a symbolic item per claim and an item per quick regime point, all passing."""
    run = _pytest(tmp_path, "--amverify", "--amverify-section", "basics", "-v")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "amverify::basics.linear.crosstalk_decomposition[N=8,d_k=4,d_v=4] PASSED" in run.stdout
    assert "amverify::basics.linear.noise_floor" not in run.stdout
    assert "amverify::basics.linear.overcomplete_noise_floor[symbolic] PASSED" in run.stdout
    from proofs_check.ledger import Kind, all_claims

    expected = sum(1 + len(c.grids["quick"]) + (c.kind is Kind.STATISTICAL and len(c.grids["quick"]) >= 2)
                   + bool(c.negative_controls) for c in all_claims("basics"))
    assert f"{expected} passed" in run.stdout
    assert "capacity." not in run.stdout


def test_narrowing_options_imply_the_flag(tmp_path):
    """'--amverify-claim ID' without '--amverify' runs that claim (it used to select nothing and pass silently)."""
    run = _pytest(tmp_path, "--amverify-claim", "basics.linear.overcomplete_noise_floor", "-v")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "amverify: mode quick" in run.stdout
    assert "amverify::basics.linear.overcomplete_noise_floor[symbolic] PASSED" in run.stdout
    from proofs_check.ledger import get_claim

    claim = get_claim("basics.linear.overcomplete_noise_floor")
    expected = (1 + len(claim.grids["quick"]) + (claim.kind.value == "statistical" and len(claim.grids["quick"]) >= 2)
                + bool(claim.negative_controls))
    assert f"{expected} passed" in run.stdout


def test_failure_shows_the_claims_numbers(tmp_path):
    """A failing point reports predicted, measured, tolerance, controls and the command that reproduces it;
    --amverify-mode picks that mode's regime grid."""
    (tmp_path / "conftest.py").write_text(WRONG_CLAIM)
    run = _pytest(tmp_path, "--amverify", "--amverify-claim", "basics.demo.wrong_double", "--amverify-seed", "5",
                  "--amverify-claim", "basics.linear.overcomplete_noise_floor", "--amverify-mode", "default")
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout
    assert "FAILED amverify::basics.demo.wrong_double[x=3]" in out
    assert " basics.demo.wrong_double[x=3] _" in out  # the failure section is headed by claim and point
    assert "predicted  3" in out and "measured   6" in out
    assert "control    zero: rejected" in out
    assert "reproduce  amverify eval basics.demo.wrong_double x=3 --seed 5" in out
    assert "PASSED amverify::basics.linear.overcomplete_noise_floor[N=128,d_k=33]" in out  # a default-grid point
    assert "1 failed, 7 passed" in out  # 3 default points, 2 derivations and 2 [controls] items pass


def test_unknown_claim_is_a_usage_error(tmp_path):
    """A mistyped claim id stops the run with pytest's usage error and suggests the close ids."""
    run = _pytest(tmp_path, "--amverify", "--amverify-claim", "capacity.linear.inverse_snr_rati")
    assert run.returncode == 4, run.stdout + run.stderr
    assert "did you mean capacity.linear.inverse_snr_ratio" in run.stdout + run.stderr


# a statistical claim 0.4 % high at each of 11 points: every point passes, the points pooled do not
BIASED_CLAIM = textwrap.dedent('''
    import sympy as sp
    from numerics.estimate import mean_of, monte_carlo
    from proofs_check.ledger import Claim, Estimand, Kind, NegativeControl, Param, Provenance, all_claims, register
    from theory.derivation import Derivation

    n = sp.Symbol("n", positive=True)

    @monte_carlo(mean_of("y", "normal trials"))
    def measure(rng, *, n, trials, variant=None):
        return {"y": 10.0 * n * 1.004 + n * rng.standard_normal(trials)}

    all_claims()
    register(Claim(
        id="basics.demo.biased", statement="demo: 0.4 % high everywhere", anchor="none",
        provenance=Provenance.SUITE, kind=Kind.STATISTICAL, estimand=Estimand("x", "none", "none"),
        params=(Param("n", 1, 100),), derivation=lambda: Derivation("10 n", 10 * n), measure=measure,
        grids={m: tuple({"n": i} for i in range(1, 12)) for m in ("quick", "default", "full")},
        trials={m: 100 for m in ("quick", "default", "full")}, max_batches=400,
        negative_controls=(NegativeControl("near", "+2 %", prediction=lambda: sp.Float(10.2) * n, near_miss=True),)))
''')


def test_a_claims_points_are_judged_together_as_check_judges_them(tmp_path):
    """A statistical claim of two or more points gets a [pooled] item; a bias of one sign below every point's
    resolution fails it, with the points' z and the command that reproduces the run."""
    (tmp_path / "conftest.py").write_text(BIASED_CLAIM)
    run = _pytest(tmp_path, "--amverify-claim", "basics.demo.biased", "--amverify-mode", "default")
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout
    assert "FAILED amverify::basics.demo.biased[pooled]" in out
    assert "PASSED amverify::basics.demo.biased[n=11]" in out
    assert "1 failed, 13 passed" in out  # 11 points, the derivation and the [controls] item pass
    assert "its 11 points together sit above the prediction" in out
    assert "reproduce  amverify check basics.demo.biased --seed" in out


# a true claim with a control whose prediction is the claim's own (a slip): n/a at every point, it cannot fail
IDLE_CONTROL_CLAIM = WRONG_CLAIM.replace("basics.demo.wrong_double", "basics.demo.idle_control").replace(
    "2.0 * x", "1.0 * x").replace('NegativeControl("zero", "0", prediction=lambda: 0 * x)',
                                  'NegativeControl("zero", "0", prediction=lambda: 0 * x), '
                                  'NegativeControl("slip", "x, by a slip", prediction=lambda: x)')


def test_a_control_that_applies_nowhere_fails_the_controls_item(tmp_path):
    """A declared control that is n/a at every point of the grid (here its prediction is the claim's own)
    cannot fail: the claim's [controls] item fails, as check calls the claim underpowered; its points pass."""
    assert IDLE_CONTROL_CLAIM != WRONG_CLAIM and "slip" in IDLE_CONTROL_CLAIM
    (tmp_path / "conftest.py").write_text(IDLE_CONTROL_CLAIM)
    run = _pytest(tmp_path, "--amverify-claim", "basics.demo.idle_control", "--amverify-mode", "default")
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout
    assert "FAILED amverify::basics.demo.idle_control[controls]" in out
    assert "PASSED amverify::basics.demo.idle_control[x=3]" in out
    assert "negative control(s) slip applied at no point of the default grid" in out
    assert "1 failed, 2 passed" in out


def test_pooled_items_only_for_statistical_claims_of_two_or_more_points(tmp_path):
    """An asymptotic claim is not pooled (its z is not centred), so it gets no [pooled] item, not even a skipped
    one. Slip: a [pooled] item for every claim of two or more points."""
    run = _pytest(tmp_path, "--amverify-claim", "capacity.linear.paper_limit", "--amverify-claim",
                  "capacity.linear.inverse_snr_ratio", "--collect-only", "-q")
    assert "amverify::capacity.linear.inverse_snr_ratio[pooled]" in run.stdout
    assert "capacity.linear.paper_limit[pooled]" not in run.stdout


def test_the_plugins_points_are_kept_by_seed_and_mode_after_the_power_rules():
    """The pooled item reuses the points its process checked: each as check judges it (power rules included)
    and only for its own seed and mode. Slips: points kept before the power rules (a default point with no
    near miss in play passes), or kept by claim and regime alone (another seed's numbers reused)."""
    import sympy as sp

    from proofs_check.ledger import Claim, Estimand, Kind, NegativeControl, Param, Provenance
    from proofs_check.pytest_plugin import _point
    from numerics.estimate import mean_of, monte_carlo
    from theory.derivation import Derivation

    @monte_carlo(mean_of("y", "normal trials"))
    def measure(rng, *, n, trials, variant=None):
        return {"y": 10.0 + rng.standard_normal(trials)}

    claim = Claim(
        id="basics.fake.kept", statement="a test double", anchor="-", provenance=Provenance.SUITE,
        kind=Kind.STATISTICAL, estimand=Estimand("x", "none", "none"), params=(Param("n", 1, 10),),
        derivation=lambda: Derivation("fake", sp.Float(10.0)), measure=measure,
        grids={m: ({"n": 1},) for m in ("quick", "default", "full")}, trials={m: 100 for m in ("quick", "default", "full")},
        negative_controls=(NegativeControl("far", "+5", prediction=lambda: sp.Float(15.0)),
                           NegativeControl("same", "the prediction here", prediction=lambda: sp.Float(10.0),
                                           near_miss=True)))
    assert _point(claim, {"n": 1}, "quick", 1).measured != _point(claim, {"n": 1}, "quick", 2).measured
    assert _point(claim, {"n": 1}, "default", 1).verdict == "underpowered"


@pytest.mark.parametrize(("claim_id", "mode"), [
    ("capacity.linear.inverse_snr_ratio", "quick"),    # Monte Carlo, trials planned from a pilot batch
    ("capacity.linear.inverse_snr_ratio", "default"),  # the default mode has no flag
    ("capacity.norm.softmax_invariance", "quick"),     # identity: no trials, '--trials' would be refused
    ("basics.linear.overcomplete_noise_floor", "full"),
])
def test_the_reproduce_line_reruns_the_same_numbers(claim_id, mode, capsys):
    """The command a failing point prints, run through the CLI, gives that point's numbers again: same
    measurement, SE and trials (a fixed '--trials N' would drop the plan and the mode's tolerances)."""
    import shlex

    from proofs_check import pytest_plugin
    from proofs_check.cli import main
    from proofs_check.ledger import get_claim

    claim = get_claim(claim_id)
    seed = 20261201
    point = pytest_plugin._point(claim, dict(claim.grids[mode][0]), mode, seed)
    text = pytest_plugin._describe_failure(claim, point, mode, seed)
    line = next(x for x in text.splitlines() if x.strip().startswith("reproduce"))
    argv = shlex.split(line.split("reproduce", 1)[1])
    assert argv[0] == "amverify"
    capsys.readouterr()
    assert main(argv[1:] + ["--json"]) in (0, 1)
    rerun = json.loads(capsys.readouterr().out)
    assert rerun["mode"] == mode and rerun["seed"] == seed
    assert rerun["measured"] == point.measured
    assert rerun["standard_error"] == point.standard_error
    assert rerun["trials"] == point.trials
    assert rerun["verdict"] == point.verdict
