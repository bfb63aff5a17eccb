"""pytest plugin: ``pytest --amverify`` runs the claim ledger as tests, one per claim and regime point.

Registered as the ``pytest11`` entry point ``amverify``, so any project with amverify installed can run

    pytest --amverify [--amverify-section S ...] [--amverify-claim ID ...] [--amverify-mode quick]

and get items such as ``amverify::capacity.linear.inverse_snr_ratio[N=16,d_k=4,d_v=4]`` (a regime
point: Monte Carlo or exact measurement against the theory value, negative controls included) and
``amverify::capacity.linear.inverse_snr_ratio[symbolic]`` (the sympy derivation) and, for a statistical
claim of two or more points, ``amverify::capacity.linear.inverse_snr_ratio[pooled]`` (its points judged
together, as ``amverify check`` judges them), and for a claim with negative controls
``amverify::capacity.linear.inverse_snr_ratio[controls]`` (each control applies at some point of the
grid). A failure prints
the claim's numbers and the ``amverify eval`` command that reproduces the point.

Any other ``--amverify-*`` option implies ``--amverify``. Without them the plugin only adds its options:
this module imports nothing but pytest, and the ledger, numpy and sympy are loaded only when asked for.
"""

from __future__ import annotations

import pytest

__all__ = ["AmverifyFailure", "ClaimPointItem", "ControlsItem", "LedgerCollector", "PooledItem", "SymbolicItem"]

MODES = ("quick", "default", "full")


def pytest_addoption(parser):
    group = parser.getgroup("amverify", "amverify: the claims of arXiv 2505.19488 as tests")
    group.addoption("--amverify", action="store_true", default=False,
                    help="add one test per amverify claim and regime point (implied by the options below)")
    group.addoption("--amverify-section", action="append", default=[], metavar="S",
                    help="only claims of this section (repeatable), e.g. capacity")
    group.addoption("--amverify-claim", action="append", default=[], metavar="ID",
                    help="only this claim id (repeatable)")
    group.addoption("--amverify-mode", choices=MODES, default=None,
                    help="regime grids and trial counts to use (default: quick)")
    group.addoption("--amverify-seed", type=_nonnegative_int, default=None, metavar="N",
                    help="root seed, a non-negative integer (default: the suite's default seed)")


def _nonnegative_int(text: str) -> int:
    """A root seed, refused as 'amverify check --seed' refuses it (its rule and message, imported only when the
    option is given): a negative one used to be accepted, and every point item then failed on a traceback from
    the seeding."""
    from proofs_check.cli import _nonnegative_int as command_line_rule

    return command_line_rule(text)


_IMPLYING = ("amverify_section", "amverify_claim", "amverify_mode", "amverify_seed")


def pytest_configure(config):
    # '--amverify-claim ID' alone must not select nothing and pass silently: the narrowing options imply the flag
    if any(config.getoption(name) not in (None, []) for name in _IMPLYING):
        config.option.amverify = True


def _mode(config) -> str:
    return config.getoption("amverify_mode") or "quick"


class AmverifyFailure(Exception):
    """A claim check that did not pass; the message is the full report of the point."""


def _seed(config) -> int:
    seed = config.getoption("amverify_seed")
    if seed is None:
        from proofs_check.seeds import DEFAULT_SEED

        seed = DEFAULT_SEED
    return seed


class _AmverifyItem(pytest.Item):
    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, AmverifyFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        # no "domain": pytest would print the dots of a claim id as "::"
        return self.path, None, ""


# points checked in this process, by (claim id, regime, seed, mode): the pooled item of a claim reuses its
# points' results where its own process ran them (under pytest-xdist another worker may have: it then
# checks them again, with the same numbers, since a point depends only on its seed)
_POINTS: dict[tuple, object] = {}


def _point(claim, params: dict, mode: str, seed: int):
    from proofs_check.engine import check_point, final_verdict
    from proofs_check.seeds import canonical_params

    key = (claim.id, canonical_params(params), seed, mode)
    if key not in _POINTS:
        _POINTS[key] = final_verdict(claim, check_point(claim, params, seed=seed, mode=mode), mode)
    return _POINTS[key]


class ClaimPointItem(_AmverifyItem):
    """One claim at one regime point: measurement against theory, then every negative control."""

    def __init__(self, *, claim_id: str, params: dict, mode: str, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.claim_id, self.params, self.mode, self.seed = claim_id, params, mode, seed

    def runtest(self):
        from proofs_check.engine import PASS
        from proofs_check.ledger import get_claim

        claim = get_claim(self.claim_id)
        result = _point(claim, self.params, self.mode, self.seed)
        if result.verdict != PASS:
            raise AmverifyFailure(_describe_failure(claim, result, self.mode, self.seed))


class _ClaimGridItem(_AmverifyItem):
    """An item that judges a claim's whole grid in a mode (its points shared with the point items)."""

    def __init__(self, *, claim_id: str, mode: str, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.claim_id, self.mode, self.seed = claim_id, mode, seed

    def claim_and_points(self):
        from proofs_check.ledger import get_claim

        claim = get_claim(self.claim_id)
        return claim, [_point(claim, dict(params), self.mode, self.seed) for params in claim.grids[self.mode]]

    def reproduce(self) -> str:
        """The line of a failure that gives the command rerunning the claim's grid."""
        return f"  reproduce  amverify check {self.claim_id} --seed {self.seed}{_mode_flag(self.mode)}"


class PooledItem(_ClaimGridItem):
    """A statistical claim's points judged together, as ``amverify check`` judges them (engine.pooled)."""

    def runtest(self):
        from proofs_check.engine import FAIL, pooled
        from proofs_check.report import format_number, format_resolution

        claim, points = self.claim_and_points()
        together = pooled(claim, points)
        if together is None:
            pytest.skip(f"{claim.id}: not every point has a finite z (its point items say why)")
        if together.verdict == FAIL:
            zs = ", ".join(format_number(p.z, 3) for p in points)
            raise AmverifyFailure(
                f"{claim.id}, {together.points} points pooled (mode {self.mode}, seed {self.seed}): fail "
                f"({together.message})\n"
                f"  z          {zs}\n"
                f"  pooled z   {format_number(together.z, 3)}   tolerance {format_number(together.tolerance, 3)}"
                f"   resolution {format_resolution(together.resolution)}\n"
                + self.reproduce())


class ControlsItem(_ClaimGridItem):
    """Every declared negative control applies at some point of the claim's grid, as ``amverify check``
    requires (engine.idle_controls): one that applies nowhere cannot fail."""

    def runtest(self):
        from proofs_check.engine import idle_controls
        from proofs_check.report import idle_message

        claim, points = self.claim_and_points()
        idle = idle_controls(claim, points)
        if idle:
            raise AmverifyFailure(f"{claim.id} (mode {self.mode}, seed {self.seed}): underpowered "
                                  f"({idle_message(idle, self.mode)})\n"
                                  + self.reproduce())


class SymbolicItem(_AmverifyItem):
    """The claim's sympy derivation: every step verifies (assumed and cited steps are allowed)."""

    def __init__(self, *, claim_id: str, **kwargs):
        super().__init__(**kwargs)
        self.claim_id = claim_id

    def runtest(self):
        from proofs_check.engine import check_symbolic
        from proofs_check.ledger import Kind, get_claim

        claim = get_claim(self.claim_id)
        result = check_symbolic(claim)
        if result.status == "failed":
            raise AmverifyFailure(f"{claim.id}: derivation failed: {result.message}\n"
                                  f"  reproduce  amverify derive {claim.id}")
        if claim.kind is Kind.CITED:
            pytest.skip(f"{claim.id} is a cited fact: recorded, not verified")


def _describe_failure(claim, r, mode: str, seed: int) -> str:
    from proofs_check.report import format_number, format_regime

    se = f" ± {format_number(r.standard_error, 3)} (SE, {r.trials} trials" if r.standard_error > 0 else ""
    if se:
        se += f", ESS {r.ess:.0f})" if r.ess is not None else ")"
    assignments = " ".join(f"{k}={v}" for k, v in r.params.items())
    try:
        statement = claim.latex()
    except Exception as exc:  # noqa: BLE001 - a derivation that cannot be built: the point's error says why
        statement = f"(not rendered: {type(exc).__name__}: {exc})"
    lines = [
        f"{claim.id} at {format_regime(r.params)} (mode {mode}, seed {seed}): {r.verdict}"
        + (f" ({r.message})" if r.message else ""),
        f"  claim      {statement}   [{claim.kind.value}, {claim.provenance.value}; {claim.anchor}]",
        f"  predicted  {format_number(r.predicted, 8)}",
        f"  measured   {format_number(r.measured, 8)}{se}",
        f"  z          {format_number(r.z, 3) if r.z is not None else '-'}   "
        f"tolerance {format_number(r.tolerance, 3)}   |measured - predicted| "
        f"{format_number(abs(r.measured - r.predicted), 3)}",
    ]
    for c in r.controls:
        lines.append(f"  control    {c.name}: {c.verdict} (wrong value {format_number(c.predicted)})")
    lines.append(f"  reproduce  amverify eval {claim.id} {assignments} --seed {seed}{_mode_flag(mode)}")
    return "\n".join(lines)


def _mode_flag(mode: str) -> str:
    """The command-line flag that selects a mode's grids, trial plan and tolerances (none for the default)."""
    return "" if mode == "default" else f" --{mode}"


class LedgerCollector(pytest.Collector):
    """The ledger as a collector: its children are the claim items selected by the options."""

    def collect(self):
        from proofs_check.engine import is_pooled
        from proofs_check.ledger import SECTIONS, Kind, UnknownClaimError, all_claims, get_claim

        config = self.config
        mode, seed = _mode(config), _seed(config)
        ids = config.getoption("amverify_claim")
        sections = config.getoption("amverify_section")
        unknown = [s for s in sections if s not in SECTIONS]
        if unknown:
            raise pytest.UsageError(f"--amverify-section {unknown[0]!r} is not one of {', '.join(SECTIONS)}")
        try:
            claims = [get_claim(i) for i in ids] if ids else all_claims()
        except UnknownClaimError as exc:
            raise pytest.UsageError(f"--amverify-claim: {exc}") from None
        if sections:
            claims = [c for c in claims if c.section in sections]
        for claim in claims:
            yield SymbolicItem.from_parent(self, name=f"{claim.id}[symbolic]", claim_id=claim.id)
            if claim.kind is Kind.CITED:
                continue
            for params in claim.grids[mode]:
                label = ",".join(f"{k}={v}" for k, v in params.items())
                yield ClaimPointItem.from_parent(self, name=f"{claim.id}[{label}]", claim_id=claim.id,
                                                 params=dict(params), mode=mode, seed=seed)
            if is_pooled(claim, len(claim.grids[mode])):
                yield PooledItem.from_parent(self, name=f"{claim.id}[pooled]", claim_id=claim.id, mode=mode,
                                             seed=seed)
            if claim.negative_controls:
                yield ControlsItem.from_parent(self, name=f"{claim.id}[controls]", claim_id=claim.id, mode=mode,
                                               seed=seed)


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection sees the items
def pytest_collection_modifyitems(session, config, items):
    if not config.getoption("amverify"):
        return
    ledger = LedgerCollector.from_parent(session, name="amverify", nodeid="amverify")
    items.extend(ledger.collect())


@pytest.hookimpl(hookwrapper=True, tryfirst=True)  # around the terminal's own summary, which prints failures
def pytest_terminal_summary(terminalreporter):
    # head each failure section with the claim and point: the items carry no "domain" (see reportinfo),
    # which pytest would otherwise print as the headline "test session"
    for report in terminalreporter.stats.get("failed", []):
        if getattr(report, "nodeid", "").startswith("amverify::") and not report.location[2]:
            report.location = (report.location[0], report.location[1], report.nodeid[len("amverify::"):])
    yield


def pytest_report_header(config):
    if config.getoption("amverify"):
        return f"amverify: mode {_mode(config)}, seed {_seed(config)}"
    return None
