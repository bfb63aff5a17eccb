"""Cost of the amverify pytest plugin in a test run that does not pass ``--amverify``.

Runs a trivial downstream test session (one passing test) in fresh interpreters, with and without
``-p proofs_check.pytest_plugin``, and the same with ``--amverify --amverify-claim`` for scale.
Prints median wall times over ``--repeats`` runs and the ratio to the baseline measured in the same
process. Usage: ``python bench/plugin_overhead.py [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _interleaved_medians(cases, cwd, env, repeats):
    """Median wall time per case; the cases alternate so that machine load drifts hit them alike."""
    times = {label: [] for label in cases}
    for _ in range(repeats):
        for label, cmd in cases.items():
            start = time.perf_counter()
            subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
            times[label].append(time.perf_counter() - start)
    return {label: statistics.median(t) for label, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "pytest.ini").write_text("[pytest]\n")
        Path(tmp, "test_own.py").write_text("def test_own():\n    assert True\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env["PYTHONPATH"] = str(ROOT)
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        cases = {
            "baseline (no plugin)": base,
            "plugin loaded, no --amverify": base + ["-p", "proofs_check.pytest_plugin"],
            "plugin, --amverify one claim": base + ["-p", "proofs_check.pytest_plugin", "--amverify",
                                                    "--amverify-claim", "capacity.linear.inverse_snr_ratio"],
        }
        medians = _interleaved_medians(cases, tmp, env, args.repeats)
        reference = medians["baseline (no plugin)"]
        for label, seconds in medians.items():
            print(f"{label:32s} {seconds:7.3f} s   ratio {seconds / reference:5.2f}")

if __name__ == "__main__":
    main()
