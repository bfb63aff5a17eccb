"""The add-a-claim how-to's example is complete, quoted verbatim, and passes the planned-power engine."""

import ast
import dataclasses
import doctest
import re
from pathlib import Path

import pytest

from examples.add_a_claim import numeric_side, theory_side
from examples.add_a_claim.claim import CLAIM
from numerics.estimate import MonteCarlo
from proofs_check.engine import (RESOLUTION_TARGET, check_point, check_symbolic, near_miss_required,
                                 point_passes_with_power)
from proofs_check.ledger import UnknownClaimError, get_claim
from theory.symbols import d_k

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "add_a_claim"
HOWTO = ROOT / "docs" / "how-to" / "add-a-claim.md"
SEED = 20250526


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def _point(claim, params, mode):
    """A grid point judged as ``amverify check`` judges it (planned power, a near miss required)."""
    point = check_point(claim, params, seed=SEED, mode=mode)
    return near_miss_required(claim, point_passes_with_power(point), mode)


@pytest.mark.parametrize("name", ["theory_side.py", "numeric_side.py", "claim.py"])
def test_howto_quotes_each_example_file_verbatim(name):
    """The how-to shows each of the example's three files whole, exactly as it is in the repository."""
    assert (EXAMPLE / name).read_text(encoding="utf-8") in _python_blocks(HOWTO.read_text(encoding="utf-8"))


def test_example_sides_keep_the_import_rule():
    """The symbolic side imports neither numpy nor numerics; the numeric side neither sympy nor theory."""
    def imported(module):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        return {n.split(".")[0] for n in names}
    assert imported(theory_side).isdisjoint({"numpy", "scipy", "numerics"})
    assert imported(numeric_side).isdisjoint({"sympy", "theory"})


def test_example_is_not_in_the_ledger():
    """The example stays out of the ledger (its counts are the paper's claims), as the how-to says."""
    with pytest.raises(UnknownClaimError):
        get_claim(CLAIM.id)


def test_example_derivation_is_verified_and_its_doctest_passes():
    """Every step of the derivation verifies in sympy and ends in d_k (d_k + 2)."""
    assert check_symbolic(CLAIM).status == "verified"
    assert doctest.testmod(theory_side).failed == 0
    assert (CLAIM.predicted_expr() - d_k * (d_k + 2)).expand() == 0


@pytest.mark.parametrize("mode", ["quick", "default"])
def test_example_passes_the_planned_power_engine(mode):
    """Every grid point passes with every control rejected, the near miss included, within the mode's target."""
    for params in CLAIM.grids[mode]:
        point = _point(CLAIM, params, mode)
        assert point.verdict == "pass", (params, point.verdict, point.message)
        assert point.resolution <= RESOLUTION_TARGET[mode], (params, point.resolution)
        verdicts = {c.name: c.verdict for c in point.controls}
        assert set(verdicts.values()) == {"rejected"}, (params, verdicts)
        assert any(c.near_miss for c in point.controls)


def test_example_fails_when_its_formula_is_broken():
    """The near-miss slip as the formula (E z^4 = 2) fails the check at a default point."""
    broken = dataclasses.replace(CLAIM, prediction=lambda: d_k * (d_k + 1), negative_controls=CLAIM.negative_controls[1:])
    assert _point(broken, {"d_k": 16}, "default").verdict == "fail"


def test_example_fails_when_its_simulation_is_broken():
    """A simulation that draws one coordinate too few fails the check at a default point."""
    good = numeric_side.measure_key_norm_fourth_moment

    def short(rng, *, trials, variant=None, **params):
        return good.simulate(rng, trials=trials, variant="one_coordinate_short", **params)

    broken = dataclasses.replace(CLAIM, measure=MonteCarlo(short, good.reduce),
                                 negative_controls=CLAIM.negative_controls[:2])
    assert _point(broken, {"d_k": 16}, "default").verdict == "fail"


def test_howto_engine_snippet_runs(capsys):
    """The how-to's Python snippet runs and prints a pass for every default point."""
    snippet = [b for b in _python_blocks(HOWTO.read_text(encoding="utf-8")) if "check_point" in b]
    assert len(snippet) == 1
    exec(compile(snippet[0], str(HOWTO), "exec"), {})
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "verified"
    assert out.count(" pass ") == len(CLAIM.grids["default"])
