"""The mutant catalogue for bench/mutation.py: plausible bugs in ``theory/`` and ``numerics/``.

Each :class:`Mutant` replaces one exact snippet (occurring exactly once) of one file. ``kind`` names
the bug class (dropped factor, off-by-one, wrong constant, mask, sign, scaling in a shared helper,
wrong distribution parameter, ...); ``survives_because`` is filled in only for a mutant that the
ledger does not kill, with the reason (an equivalent mutant, or a check the ledger lacks).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MUTANTS", "Mutant"]


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


MUTANTS: tuple[Mutant, ...] = ()
