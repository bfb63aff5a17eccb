"""Hypothesis strategies over claim domains (hypothesis is imported lazily: a test-only dependency)."""

from __future__ import annotations

from typing import Any, Mapping

from proofs_check.ledger import Claim

__all__ = ["domain_strategy", "off_typical_norms", "params_strategy"]


def domain_strategy(claim: Claim, caps: Mapping[str, tuple[float, float]] | None = None,
                    derived: Mapping[str, Any] | None = None):
    """Parameter dicts drawn from ``claim``'s domain, narrowed by ``caps`` and filtered by its constraints.

    ``derived`` maps a parameter name to a function of the already drawn dict (e.g. a norm set
    to a multiple of ``d_k``); such parameters are computed, not drawn.
    """
    from hypothesis import strategies as st

    caps = dict(caps or {})
    derived = dict(derived or {})
    unknown = sorted((set(caps) | set(derived)) - set(claim.param_names))
    if unknown:  # a typo in a cap would silently leave the whole domain to the search
        raise ValueError(f"{claim.id}: strategy names unknown parameter(s) {unknown!r}; "
                         f"expected some of {list(claim.param_names)!r}")
    fields = {}
    for p in claim.params:
        if p.name in derived:
            continue
        low, high = caps.get(p.name, (p.low, p.high))
        if max(low, p.low) > min(high, p.high):
            raise ValueError(f"{claim.id}: {p.name}: caps ({low:g}, {high:g}) leave nothing of "
                             f"[{p.low:g}, {p.high:g}]")
        low, high = max(low, p.low), min(high, p.high)
        if p.integer:
            fields[p.name] = st.integers(int(low), int(high))
        else:
            fields[p.name] = st.floats(low, high, allow_nan=False, allow_infinity=False)

    def complete(values):
        out = dict(values)
        for name, fn in derived.items():
            out[name] = fn(out)
        return out

    def valid(values):
        return all(c.holds(values) for c in claim.constraints)

    return st.fixed_dictionaries(fields).map(complete).filter(valid)


def params_strategy(claim: Claim):
    """The claim's test search space: its registered caps or strategy, else its whole domain."""
    if callable(claim.strategy):
        return claim.strategy(claim)
    return domain_strategy(claim, claim.strategy)


def off_typical_norms(caps: Mapping[str, tuple[float, float]], *, key_dim: str = "d_k", key_fraction: float = 0.5,
                      value_fraction: float = 1.5):
    """A ``Claim.strategy`` for conditional SNR claims: ``key_norm2 = key_fraction * key_dim`` and
    ``value_norm2 = value_fraction * d_v`` are derived, set off their typical values so that a
    formula blind to the realised norms fails."""
    def build(claim: Claim):
        return domain_strategy(claim, caps, derived={"key_norm2": lambda q: key_fraction * q[key_dim],
                                                     "value_norm2": lambda q: value_fraction * q["d_v"]})
    return build
