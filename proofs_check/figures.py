"""Figures for the capacity section: SNR^{-1} against N per kernel, and capacity against d_k.

Needs matplotlib (the ``plot`` extra); the checks never do. Theory lines are evaluated from the
same sympy expressions the claims check; Monte Carlo points come from the numeric side with one
child seed per point (:func:`proofs_check.seeds.point_rng`), so a figure reproduces from its seed.
"""

from __future__ import annotations

import pathlib
from typing import Callable

import numpy as np

from numerics import exp_kernel
from numerics import kernels as num
from numerics import linear_memory as num_linear
from proofs_check.ledger import MODES, evaluate
from proofs_check.seeds import point_rng
from theory import kernels as th
from theory import linear_memory as th_linear

__all__ = ["FIGURES", "MatplotlibMissing", "figure_sections", "write_figures"]

D_K, D_V = 16, 8


class MatplotlibMissing(ImportError):
    """matplotlib is not installed (``pip install 'amverify[plot]'``)."""


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise MatplotlibMissing("figures need matplotlib: pip install 'amverify[plot]' (or pip install matplotlib)") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _kernels() -> list[tuple[str, str, Callable, Callable]]:
    """(seed key, legend label, theory in N at a typical stored pair, MC measure(rng, N, trials)) per kernel.

    The seed key is the plain name, so a point's random numbers do not change with its legend text.
    """
    typical = {"d_k": D_K, "d_v": D_V, "key_norm2": float(D_K), "value_norm2": float(D_V)}
    stored = dict(d_k=D_K, d_v=D_V, key_norm2=float(D_K), value_norm2=float(D_V))

    def at(expr, **extra):
        values = dict(typical, **extra)
        return lambda n: evaluate(expr, {**values, "N": n})

    return [
        ("linear", "linear", at(th_linear.inverse_snr_conditional().result),
         lambda rng, n, t: num_linear.measure_inverse_snr_conditional(rng, N=n, trials=t, **stored)),
        ("ReLU", "ReLU", at(th.inverse_snr_relu().result),
         lambda rng, n, t: num.measure_inverse_snr_relu(rng, N=n, trials=t, **stored)),
        ("poly p=2", r"poly $p=2$", at(th.inverse_snr_poly().result, p=2),
         lambda rng, n, t: num.measure_inverse_snr_poly(rng, N=n, p=2, trials=t, **stored)),
        ("exp tau=2", r"exp $\tau=2$", at(th.inverse_snr_exp().result, tau=2),
         lambda rng, n, t: exp_kernel.measure_inverse_snr_exp(rng, N=n, tau=2.0, trials=max(t // 20, 10), **stored)),
        ("exp tau=sqrt(d)", r"exp $\tau=\sqrt{d_k}$", at(th.inverse_snr_exp().result, tau=float(np.sqrt(D_K))),
         lambda rng, n, t: exp_kernel.measure_inverse_snr_exp(rng, N=n, tau=float(np.sqrt(D_K)),
                                                              trials=max(t // 20, 10), **stored)),
    ]


def _snr_vs_n(plt, out_dir: pathlib.Path, seed: int, mode: str) -> list[pathlib.Path]:
    ns_mc = [4, 16, 64, 256] if mode == "quick" else [4, 16, 64, 256, 1024]
    trials = 200 if mode == "quick" else 1000
    ns = np.unique(np.logspace(np.log10(2), np.log10(2e5), 60).astype(int))
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for key, label, theory, measure in _kernels():
        line, = ax.plot(ns, [theory(int(n)) for n in ns])
        pts = []
        for n in ns_mc:
            rng = point_rng(seed, f"figure.snr_vs_n.{key}", {"N": n})
            est = measure(rng, n, trials)
            pts.append((n, est.estimate, est.standard_error))
        x, y, e = map(np.asarray, zip(*pts))
        marks = ax.errorbar(x, y, yerr=e, fmt="o", ms=4, color=line.get_color(), capsize=2)
        line.set_label("_")
        marks.set_label(label)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"stored pairs $N$")
    ax.set_ylabel(r"$\mathrm{SNR}^{-1}$ (conditional, typical stored pair)")
    ax.set_title(f"Retrieval noise per kernel, $d_k={D_K}$, $d_v={D_V}$\n"
                 r"lines: theory; points: Monte Carlo $\pm$ SE", fontsize=10)
    _legend(ax)
    return _save(plt, fig, out_dir / "snr_vs_n")


def _legend(ax) -> None:
    """One entry per kernel: its colour's line (theory) with its marker (Monte Carlo)."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=h.lines[0].get_color(), marker="o", ms=4) for h in ax.containers]
    ax.legend(handles, [h.get_label() for h in ax.containers], fontsize=7)


def _capacity_vs_d(plt, out_dir: pathlib.Path, seed: int, mode: str) -> list[pathlib.Path]:
    """N* = 1 + rho/g(d) against d_k, g the crosstalk per stored pair (SNR^{-1} at N = 2, typical stored pair).

    Conditional SNR^{-1} is (N - 1) g exactly (independent other keys add their crosstalk), so a Monte Carlo
    point measures SNR^{-1} at some N and divides by N - 1; its error bar is the delta-method SE of N*.
    """
    dims = np.arange(4, 65)
    dims_mc = [8, 16, 24, 32] if mode == "quick" else [8, 16, 24, 32, 48, 64]
    rho = 1.0
    huge_dv = 10**9  # d_v/(d_v - 2) -> 1: the mean over k_i alone

    def typical(expr, **extra):
        return lambda d: evaluate(expr, {"N": 2, "d_k": int(d), "d_v": D_V, "key_norm2": float(d),
                                         "value_norm2": float(D_V), **extra})

    def stored(d):
        return dict(d_k=int(d), d_v=D_V, key_norm2=float(d), value_norm2=float(D_V))

    # (seed key, legend label, g(d) from theory, (N, measure(rng, d)) for the Monte Carlo points)
    curves = [
        ("linear", "linear", typical(th_linear.inverse_snr_conditional().result),
         (33, lambda rng, d: num_linear.measure_inverse_snr_conditional(rng, N=33, trials=200, **stored(d)))),
        ("ReLU", "ReLU", typical(th.inverse_snr_relu().result),
         (33, lambda rng, d: num.measure_inverse_snr_relu(rng, N=33, trials=200, **stored(d)))),
        ("poly", r"poly $p=2$", typical(th.inverse_snr_poly().result, p=2),
         (33, lambda rng, d: num.measure_inverse_snr_poly(rng, N=33, p=2, trials=200, **stored(d)))),
        ("exp", r"exp $\tau=2$", typical(th.inverse_snr_exp().result, tau=2),
         (257, lambda rng, d: exp_kernel.measure_inverse_snr_exp(rng, N=257, tau=2.0, trials=10, **stored(d)))),
        ("exp_sqrt_d", r"exp $\tau=\sqrt{d_k}$", lambda d: evaluate(th.inverse_snr_exp_sqrt_d().result,
                                                                    {"N": 2, "d_k": int(d)}),
         (257, lambda rng, d: exp_kernel.measure_inverse_snr_exp(rng, N=257, tau=float(np.sqrt(d)), trials=10,
                                                                 **stored(d)))),
        ("exp_mean", r"exp $\tau=2$, mean over $k_i$",
         lambda d: evaluate(th.inverse_snr_exp_mean().result.subs(th.d_v, huge_dv), {"N": 2, "d_k": int(d), "tau": 2}),
         (2, lambda rng, d: exp_kernel.measure_inverse_snr_exp_mean(rng, N=2, d_k=int(d), d_v=huge_dv, tau=2.0,
                                                                    trials=4000))),
    ]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for key, label, g, (n, measure) in curves:
        line, = ax.plot(dims, [1 + rho / g(d) for d in dims], label="_")
        pts = []
        for d in dims_mc:
            est = measure(point_rng(seed, f"figure.capacity_vs_d.{key}", {"d_k": d}), d)
            g_mc, g_se = est.estimate / (n - 1), est.standard_error / (n - 1)
            pts.append((d, 1 + rho / g_mc, rho * g_se / g_mc**2))
        x, y, e = map(np.asarray, zip(*pts))
        ax.errorbar(x, y, yerr=e, fmt="o", color=line.get_color(), ms=4, capsize=2, label=label)
    ax.set_yscale("log")
    ax.set_xlabel(r"key dimension $d_k$")
    ax.set_ylabel(r"capacity $N^*$ at $\mathrm{SNR}^{-1} = 1$")
    ax.set_title(f"Capacity against dimension, $d_v={D_V}$ (typical stored pair, or mean over $k_i$)\n"
                 r"lines: theory; points: Monte Carlo $\pm$ SE", fontsize=10)
    _legend(ax)
    return _save(plt, fig, out_dir / "capacity_vs_d")


def _save(plt, fig, stem: pathlib.Path) -> list[pathlib.Path]:
    fig.tight_layout()
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths


# (name, ledger section it illustrates, drawing function)
FIGURES = (("snr_vs_n", "capacity", _snr_vs_n), ("capacity_vs_d", "capacity", _capacity_vs_d))

# journals take Type 1 or TrueType (Type 42) fonts in PDFs, not matplotlib's default Type 3
_RC = {"pdf.fonttype": 42, "ps.fonttype": 42}


def figure_sections() -> tuple[str, ...]:
    """The ledger sections that have figures."""
    return tuple(dict.fromkeys(section for _, section, _ in FIGURES))


def write_figures(out_dir, *, seed: int, mode: str = "quick", sections=None) -> list[pathlib.Path]:
    """Write the figures of ``sections`` (all when None) as PNG and PDF into ``out_dir``; return the paths.

    ``mode`` is a ledger mode: ``"quick"`` (fewer Monte Carlo points and trials, seconds) or
    ``"default"``/``"full"`` (more). A section without figures writes nothing. PDFs embed their fonts
    as TrueType (Type 42). Raises :class:`MatplotlibMissing` without matplotlib.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    chosen = [(name, draw) for name, section, draw in FIGURES if sections is None or section in sections]
    if not chosen:
        return []
    plt = _pyplot()
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(_RC):
        return [path for _, draw in chosen for path in draw(plt, out, seed, mode)]
