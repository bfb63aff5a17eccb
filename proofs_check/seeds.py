"""Deterministic seeding: one root seed, one child ``SeedSequence`` per (claim, regime point, replicate, batch).

The child's spawn key is a hash of the claim id and the canonical parameter set, then the
replicate and the batch index, so any single point (and any single batch of its trials)
reproduces alone, and results do not depend on run order, grid order or worker count.

>>> a = point_seed(0, "basics.linear.crosstalk_decomposition", {"N": 4, "d_k": 2, "d_v": 3})
>>> b = point_seed(0, "basics.linear.crosstalk_decomposition", {"d_v": 3, "d_k": 2, "N": 4})
>>> a.generate_state(2).tolist() == b.generate_state(2).tolist()
True
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import numpy as np

# numpy is imported by the functions that make seeds and generators: the command line imports this module
# for DEFAULT_SEED before it starts the pool's fork server, which should not wait for numpy's import
# (tests/test_scheduling.py)

__all__ = ["DEFAULT_SEED", "batch_rng", "canonical_params", "point_rng", "point_seed"]

DEFAULT_SEED = 20250526  # the paper's arXiv v1 date
SPAWN_OFFSET = 2**31  # first key word of a child spawned from a point's seed: above any batch index


def canonical_params(params: Mapping[str, Any]) -> str:
    """A stable text form of a parameter set (sorted keys, numbers as JSON)."""
    return json.dumps({k: params[k] for k in sorted(params)}, sort_keys=True, separators=(",", ":"))


def point_seed(root: int, claim_id: str, params: Mapping[str, Any], replicate: int = 0,
               batch: int | None = None) -> np.random.SeedSequence:
    """The child seed of ``root`` for one (claim, regime point, replicate), or one batch of its trials."""
    import numpy as np

    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or root < 0:
        raise ValueError(f"root seed must be a non-negative integer, got {root!r}")
    digest = hashlib.blake2b(f"{claim_id}|{canonical_params(params)}".encode(), digest_size=16).digest()
    words = tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))
    key = words + (int(replicate),) + (() if batch is None else (int(batch),))
    # children spawned from this seed start their keys at SPAWN_OFFSET, so they never take a batch's key
    # (``key + (b,)``); the offset changes no stream of the seed itself
    return np.random.SeedSequence(int(root), spawn_key=key, n_children_spawned=SPAWN_OFFSET)


def point_rng(root: int, claim_id: str, params: Mapping[str, Any], replicate: int = 0) -> np.random.Generator:
    """A fresh ``Generator`` (PCG64) for one (claim, regime point, replicate)."""
    import numpy as np

    return np.random.Generator(np.random.PCG64(point_seed(root, claim_id, params, replicate)))


def batch_rng(root: int, claim_id: str, params: Mapping[str, Any], batch: int, replicate: int = 0
              ) -> np.random.Generator:
    """A fresh ``Generator`` for batch ``batch`` of one point's Monte Carlo trials (its own stream).

    >>> a = batch_rng(0, "x.y.z", {"N": 3}, 0).standard_normal()
    >>> b = batch_rng(0, "x.y.z", {"N": 3}, 1).standard_normal()
    >>> a != b
    True
    """
    import numpy as np

    return np.random.Generator(np.random.PCG64(point_seed(root, claim_id, params, replicate, batch)))
