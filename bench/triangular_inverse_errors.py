"""Error of the fast triangular inverse (repeated squaring) against forward substitution, by size and precision.

    python3 bench/triangular_inverse_errors.py [--sizes 4 8 ... 256] [--seeds 5]

For each entry law of the strictly lower-triangular A (see numerics.triangular_inverse.strictly_lower)
and each precision, prints the median over seeds of the relative error of the fast inverse and of
forward substitution in the same precision (reference: forward substitution in float64, or in
numpy.longdouble for the float64 rows). "inf" marks a non-finite result.
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128, 256])
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import numpy as np

    from numerics.triangular_inverse import DISTRIBUTIONS, inverse_error, strictly_lower

    header = "law            dtype     route    " + " ".join(f"{c:>9d}" for c in args.sizes)
    print(header)
    for law in DISTRIBUTIONS:
        for dtype in (np.float64, np.float32, np.float16):
            rows = {"fast": [], "forward": []}
            for c in args.sizes:
                errs = [inverse_error(strictly_lower(np.random.default_rng(s), c, law), dtype)
                        for s in range(args.seeds)]
                rows["fast"].append(float(np.median([e[0] for e in errs])))
                rows["forward"].append(float(np.median([e[1] for e in errs])))
            for route, values in rows.items():
                print(f"{law:14s} {np.dtype(dtype).name:9s} {route:8s} " + " ".join(f"{v:9.1e}" for v in values))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
