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
from proofs_check.ledger import evaluate
from proofs_check.seeds import point_rng
from theory import kernels as th
from theory import linear_memory as th_linear

__all__ = ["MatplotlibMissing", "write_figures"]

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


def _kernels() -> list[tuple[str, object, Callable]]:
    """(label, theory expression in N at a typical stored pair, MC measure(rng, N, trials))."""
    typical = {"d_k": D_K, "d_v": D_V, "key_norm2": float(D_K), "value_norm2": float(D_V)}

    def at(expr, **extra):
        values = dict(typical, **extra)
        return lambda n: evaluate(expr, {**values, "N": n})

    return [
        ("linear", at(th_linear.inverse_snr_conditional().result),
         lambda rng, n, t: num_linear.measure_inverse_snr_conditional(rng, N=n, d_k=D_K, d_v=D_V, key_norm2=float(D_K),
                                                                      value_norm2=float(D_V), trials=t)),
        ("ReLU", at(th.inverse_snr_relu().result),
         lambda rng, n, t: num.measure_inverse_snr_relu(rng, N=n, d_k=D_K, d_v=D_V, key_norm2=float(D_K),
                                                        value_norm2=float(D_V), trials=t)),
        ("poly p=2", at(th.inverse_snr_poly().result, p=2),
         lambda rng, n, t: num.measure_inverse_snr_poly(rng, N=n, d_k=D_K, d_v=D_V, key_norm2=float(D_K),
                                                        value_norm2=float(D_V), p=2, trials=t)),
        ("exp tau=2", at(th.inverse_snr_exp().result, tau=2),
         lambda rng, n, t: exp_kernel.measure_inverse_snr_exp(rng, N=n, d_k=D_K, d_v=D_V, key_norm2=float(D_K),
                                                       value_norm2=float(D_V), tau=2.0, trials=max(t // 20, 10))),
        ("exp tau=sqrt(d)", at(th.inverse_snr_exp().result, tau=float(np.sqrt(D_K))),
         lambda rng, n, t: exp_kernel.measure_inverse_snr_exp(rng, N=n, d_k=D_K, d_v=D_V, key_norm2=float(D_K),
                                                       value_norm2=float(D_V), tau=float(np.sqrt(D_K)),
                                                       trials=max(t // 20, 10))),
    ]


def _snr_vs_n(plt, out_dir: pathlib.Path, seed: int, mode: str) -> list[pathlib.Path]:
    ns_mc = [4, 16, 64, 256] if mode == "quick" else [4, 16, 64, 256, 1024]
    trials = 200 if mode == "quick" else 1000
    ns = np.unique(np.logspace(np.log10(2), np.log10(2e5), 60).astype(int))
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label, theory, measure in _kernels():
        line, = ax.plot(ns, [theory(int(n)) for n in ns], label=f"{label} (theory)")
        pts = []
        for n in ns_mc:
            rng = point_rng(seed, f"figure.snr_vs_n.{label}", {"N": n})
            est = measure(rng, n, trials)
            pts.append((n, est.estimate, est.standard_error))
        x, y, e = map(np.asarray, zip(*pts))
        ax.errorbar(x, y, yerr=e, fmt="o", ms=4, color=line.get_color(), capsize=2)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("stored pairs N")
    ax.set_ylabel(r"$\mathrm{SNR}^{-1}$ (conditional, typical stored pair)")
    ax.set_title(f"Retrieval noise per kernel, $d_k={D_K}$, $d_v={D_V}$ (points: Monte Carlo ± SE)")
    ax.legend(fontsize=7)
    return _save(plt, fig, out_dir / "snr_vs_n")


def _capacity_vs_d(plt, out_dir: pathlib.Path, seed: int, mode: str) -> list[pathlib.Path]:
    dims = np.arange(4, 65)
    dims_mc = [8, 16, 24, 32] if mode == "quick" else [8, 16, 24, 32, 48, 64]
    rho = 1.0
    def per_pair(expr, **extra):
        """Crosstalk per stored pair g(d) = SNR^{-1} at N = 2, typical stored pair; N* = 1 + rho/g."""
        return lambda d: 1 + rho / evaluate(expr, {"N": 2, "d_k": int(d), "d_v": D_V, "key_norm2": float(d),
                                                   "value_norm2": float(D_V), **extra})

    curves = {
        "linear": per_pair(th_linear.inverse_snr_conditional().result),
        "ReLU": per_pair(th.inverse_snr_relu().result),
        "poly p=2": per_pair(th.inverse_snr_poly().result, p=2),
        "exp tau=2": per_pair(th.inverse_snr_exp().result, tau=2),
        "exp tau=sqrt(d)": lambda d: 1 + rho / evaluate(th.inverse_snr_exp_sqrt_d().result, {"N": 2, "d_k": int(d)}),
        "exp tau=2, mean over k_i": lambda d: 1 + rho / evaluate(th.inverse_snr_exp_mean().result.subs(th.d_v, 10**9),
                                                                 {"N": 2, "d_k": int(d), "tau": 2}),
    }
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label, f in curves.items():
        line, = ax.plot(dims, [f(d) for d in dims], label=label)
        if label == "exp tau=2":
            pts = []
            for d in dims_mc:
                rng = point_rng(seed, "figure.capacity_vs_d.exp", {"d_k": d})
                est = exp_kernel.measure_inverse_snr_exp(rng, N=257, d_k=d, d_v=8, key_norm2=float(d), value_norm2=8.0,
                                                  tau=2.0, trials=10)
                pts.append((d, 1 + rho / (est.estimate / 256)))
            x, y = map(np.asarray, zip(*pts))
            ax.plot(x, y, "o", color=line.get_color(), ms=4)
        if label == "poly p=2":
            pts = []
            for d in dims_mc:
                rng = point_rng(seed, "figure.capacity_vs_d.poly", {"d_k": d})
                est = num.measure_inverse_snr_poly(rng, N=33, d_k=d, d_v=8, key_norm2=float(d), value_norm2=8.0, p=2,
                                                   trials=200)
                g, g_se = est.estimate / 32, est.standard_error / 32
                pts.append((d, 1 + rho / g, rho * g_se / g**2))
            x, y, e = map(np.asarray, zip(*pts))
            ax.errorbar(x, y, yerr=e, fmt="o", color=line.get_color(), ms=4, capsize=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"key dimension $d_k$")
    ax.set_ylabel(r"capacity $N^*$ at $\mathrm{SNR}^{-1} = 1$")
    ax.set_title("Capacity against dimension (points: Monte Carlo)")
    ax.legend(fontsize=7)
    return _save(plt, fig, out_dir / "capacity_vs_d")


def _save(plt, fig, stem: pathlib.Path) -> list[pathlib.Path]:
    fig.tight_layout()
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths


def write_figures(out_dir, *, seed: int, mode: str = "quick") -> list[pathlib.Path]:
    """Write ``snr_vs_n`` and ``capacity_vs_d`` as PNG and PDF into ``out_dir``; return the paths.

    ``mode`` is ``"quick"`` (seconds) or ``"full"`` (more Monte Carlo points and trials).
    Raises :class:`MatplotlibMissing` without matplotlib.
    """
    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
    plt = _pyplot()
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _snr_vs_n(plt, out, seed, mode) + _capacity_vs_d(plt, out, seed, mode)
