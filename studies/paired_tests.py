"""One-sided paired tests, Holm's correction and the sample size for them (numpy and math only).

Used by ``studies/study_switch.py`` (the pre-registered confirmatory run,
``benchmarks/preregistration/2026-12-07-switch.md``). Every test takes the paired
differences ``d_i = A_i - B_i`` of a measure where lower is better and a shift ``margin``:

    H0: location(d) >= margin    against    H1: location(d) < margin

``margin = 0`` is superiority of A over B; ``margin = delta > 0`` is non-inferiority of A
to B by ``delta``.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["normal_cdf", "normal_quantile", "wilcoxon_lower", "sign_test_lower", "holm", "paired_n", "paired_power"]

WILCOXON_ARE = 0.864  # the Wilcoxon test's smallest asymptotic efficiency against the t-test (any shape)


def normal_cdf(z: float) -> float:
    """``Phi(z) = (1 + erf(z / sqrt 2)) / 2``."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def normal_quantile(p: float) -> float:
    """``Phi^-1(p)`` by bisection on ``normal_cdf`` (to 1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}.")
    low, high = -40.0, 40.0
    while high - low > 1e-12:
        mid = 0.5 * (low + high)
        low, high = (mid, high) if normal_cdf(mid) < p else (low, mid)
    return 0.5 * (low + high)


def midranks(values) -> np.ndarray:
    """Ranks 1..n of ``values``, ties given the mean of the ranks they span."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def wilcoxon_lower(differences, margin: float = 0.0) -> dict:
    """Wilcoxon's signed-rank test of ``H1: location(d) < margin``, normal approximation.

    With ``e_i = d_i - margin``, zeros dropped (``n`` left), ``R_i`` the midranks of ``|e_i|``,
    ``W+ = sum_{e_i > 0} R_i``:

        E W+ = n (n + 1) / 4,
        Var W+ = n (n + 1) (2n + 1) / 24 - sum_ties (t^3 - t) / 48,
        p = Phi((W+ - E W+ + 1/2) / sqrt(Var W+))      (continuity-corrected lower tail).

    Small ``W+`` (the differences mostly below the margin) gives a small p.
    """
    e = np.asarray(differences, dtype=float) - margin
    e = e[e != 0.0]
    n = len(e)
    if n == 0:
        return {"n_nonzero": 0, "w_plus": 0.0, "z": 0.0, "p": 1.0}
    ranks = midranks(np.abs(e))
    w_plus = float(ranks[e > 0].sum())
    _, counts = np.unique(np.abs(e), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24.0 - float(((counts**3 - counts)).sum()) / 48.0
    z = (w_plus - n * (n + 1) / 4.0 + 0.5) / math.sqrt(var)
    return {"n_nonzero": n, "w_plus": w_plus, "z": z, "p": normal_cdf(z)}


def sign_test_lower(differences, margin: float = 0.0) -> dict:
    """The exact sign test of ``H1: median(d) < margin``: with ``k`` of the ``n`` nonzero
    ``d_i - margin`` below 0, ``p = P(Binomial(n, 1/2) >= k) = sum_{j >= k} C(n, j) / 2^n``."""
    e = np.asarray(differences, dtype=float) - margin
    below, n = int((e < 0).sum()), int((e != 0).sum())
    p = sum(math.comb(n, j) for j in range(below, n + 1)) / 2**n if n else 1.0
    return {"n_nonzero": n, "below": below, "p": p}


def holm(p_values) -> list[float]:
    """Holm's step-down adjusted p-values: sorted ascending ``p_(1) <= ... <= p_(m)``,

        p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)),

    returned in the input order. Rejecting ``p~ < alpha`` controls the family-wise error at alpha."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="mergesort")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def paired_n(sd: float, shift: float, alpha: float, power: float = 0.8, efficiency: float = WILCOXON_ARE) -> int:
    """Pairs for a one-sided paired test at level ``alpha`` to reach ``power`` when the true
    mean difference sits ``shift`` inside the rejection side of the margin:

        N = ceil(((z_{1-alpha} + z_power) sd / shift)^2 / efficiency)

    (the normal-theory size, divided by the Wilcoxon test's efficiency against it)."""
    z = normal_quantile(1 - alpha) + normal_quantile(power)
    return math.ceil((z * sd / shift) ** 2 / efficiency)


def paired_power(n: int, sd: float, shift: float, alpha: float, efficiency: float = WILCOXON_ARE) -> float:
    """The power ``paired_n`` inverts: ``Phi(sqrt(efficiency n) shift / sd - z_{1-alpha})``."""
    if sd == 0:
        return 1.0
    return normal_cdf(math.sqrt(efficiency * n) * shift / sd - normal_quantile(1 - alpha))
