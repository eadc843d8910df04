"""The 53 Moré–Wild benchmark problems for derivative-free least-squares optimization.

Each problem is a nonlinear least-squares problem ``f(x) = ||F(x)||^2`` built from one of 22
residual functions ``F: R^n -> R^m``, a problem size ``(n, m)`` and a multiple ``factor`` of the
standard starting point.  The residuals and starting points follow ``dfovec.m`` and ``dfoxs.m`` of

    J. J. Moré and S. M. Wild, "Benchmarking derivative-free optimization algorithms",
    SIAM J. Optim. 20(1):172–191, 2009,

whose problems 1–18 come from

    J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained optimization
    software", ACM Trans. Math. Softw. 7(1):17–41, 1981.

The residual functions are pure ``jax.numpy`` (no Python control flow on values), so they can be
``jax.jit``-ed, ``jax.vmap``-ed and differentiated, and they preserve the floating dtype of ``x``.
The problem table and reference objective values are read from ``data/morewild53.csv``.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["LeastSquaresProblem", "more_wild_53"]

_CSV_PATH = Path(__file__).parent / "data" / "morewild53.csv"

# ---------------------------------------------------------------------------------------------
# Data of the Moré–Garbow–Hillstrom problems.
# ---------------------------------------------------------------------------------------------
_V9 = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625])
_Y8 = np.array(
    [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.1, 4.39]
)
_Y9 = np.array(
    [0.1957, 0.1947, 0.1735, 0.16, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246]
)
_Y10 = np.array(
    [34780.0, 28610.0, 23650.0, 19630.0, 16370.0, 13720.0, 11540.0, 9744.0,
     8261.0, 7030.0, 6005.0, 5147.0, 4427.0, 3820.0, 3307.0, 2872.0]
)  # fmt: skip
_Y17 = np.array(
    [0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751,
     0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490,
     0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411, 0.406]
)  # fmt: skip
_Y18 = np.array(
    [1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725, 0.746,
     0.679, 0.608, 0.655, 0.616, 0.606, 0.602, 0.626, 0.651, 0.724, 0.649, 0.649,
     0.694, 0.644, 0.624, 0.661, 0.612, 0.558, 0.533, 0.495, 0.500, 0.423, 0.395,
     0.375, 0.372, 0.391, 0.396, 0.405, 0.428, 0.429, 0.523, 0.562, 0.607, 0.653,
     0.672, 0.708, 0.633, 0.668, 0.645, 0.632, 0.591, 0.559, 0.597, 0.625, 0.739,
     0.710, 0.729, 0.720, 0.636, 0.581, 0.428, 0.292, 0.162, 0.098, 0.054]
)  # fmt: skip


def _float(x) -> jax.Array:
    """``jnp.asarray(x)``, promoting non-floating input to the default float dtype."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def _c(values, x: jax.Array) -> jax.Array:
    """A constant array in the dtype of ``x``."""
    return jnp.asarray(values, dtype=x.dtype)


def _idx(k: int, x: jax.Array, start: int = 1) -> jax.Array:
    """``[start, start + 1, ..., start + k - 1]`` in the dtype of ``x``."""
    return jnp.arange(start, start + k, dtype=x.dtype)


# ---------------------------------------------------------------------------------------------
# Residual functions F(x), one per problem number nprob = 1..22 (as in dfovec.m).
# ---------------------------------------------------------------------------------------------
def _linear_full_rank(x, m):
    """1. Linear function, full rank."""
    x = _float(x)
    return jnp.pad(x, (0, m - x.shape[0])) - (2.0 * jnp.sum(x) / m + 1.0)


def _linear_rank_1(x, m):
    """2. Linear function, rank 1."""
    x = _float(x)
    return _idx(m, x) * jnp.dot(_idx(x.shape[0], x), x) - 1.0


def _linear_rank_1_zero_cols_rows(x, m):
    """3. Linear function, rank 1 with zero columns and rows."""
    x = _float(x)
    n = x.shape[0]
    s = jnp.dot(_idx(n - 2, x, start=2), x[1:-1])
    coef = jnp.concatenate([_idx(m - 1, x, start=0), jnp.zeros(1, x.dtype)])
    return coef * s - 1.0


def _rosenbrock(x, m):
    """4. Rosenbrock function."""
    x = _float(x)
    return jnp.stack([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def _helical_valley(x, m):
    """5. Helical valley function."""
    x = _float(x)
    x1, x2, x3 = x[0], x[1], x[2]
    safe_x1 = jnp.where(x1 == 0.0, 1.0, x1)
    th = jnp.arctan(x2 / safe_x1) / (2.0 * math.pi) + jnp.where(x1 < 0.0, 0.5, 0.0)
    th = jnp.where(x1 == 0.0, 0.25, th)
    r = jnp.sqrt(x1**2 + x2**2)
    return jnp.stack([10.0 * (x3 - 10.0 * th), 10.0 * (r - 1.0), x3])


def _powell_singular(x, m):
    """6. Powell singular function."""
    x = _float(x)
    return jnp.stack(
        [
            x[0] + 10.0 * x[1],
            math.sqrt(5.0) * (x[2] - x[3]),
            (x[1] - 2.0 * x[2]) ** 2,
            math.sqrt(10.0) * (x[0] - x[3]) ** 2,
        ]
    )


def _freudenstein_roth(x, m):
    """7. Freudenstein and Roth function."""
    x = _float(x)
    x1, x2 = x[0], x[1]
    return jnp.stack(
        [
            -13.0 + x1 + ((5.0 - x2) * x2 - 2.0) * x2,
            -29.0 + x1 + ((1.0 + x2) * x2 - 14.0) * x2,
        ]
    )


def _bard(x, m):
    """8. Bard function."""
    x = _float(x)
    u = _idx(15, x)
    v = 16.0 - u
    w = jnp.minimum(u, v)
    return _c(_Y8, x) - (x[0] + u / (x[1] * v + x[2] * w))


def _kowalik_osborne(x, m):
    """9. Kowalik and Osborne function."""
    x = _float(x)
    v = _c(_V9, x)
    return _c(_Y9, x) - x[0] * v * (v + x[1]) / (v * (v + x[2]) + x[3])


def _meyer(x, m):
    """10. Meyer function."""
    x = _float(x)
    t = 5.0 * _idx(16, x) + 45.0
    return x[0] * jnp.exp(x[1] / (t + x[2])) - _c(_Y10, x)


def _watson(x, m):
    """11. Watson function (m = 31)."""
    x = _float(x)
    n = x.shape[0]
    t = _idx(29, x) / 29.0
    powers = t[:, None] ** _idx(n, x, start=0)[None, :]  # t_i^(j-1), shape (29, n)
    s1 = powers[:, :-1] @ (_idx(n - 1, x) * x[1:])
    s2 = powers @ x
    return jnp.concatenate([s1 - s2**2 - 1.0, jnp.stack([x[0], x[1] - x[0] ** 2 - 1.0])])


def _box_3d(x, m):
    """12. Box three-dimensional function."""
    x = _float(x)
    i = _idx(m, x)
    t = i / 10.0
    return jnp.exp(-t * x[0]) - jnp.exp(-t * x[1]) + (jnp.exp(-i) - jnp.exp(-t)) * x[2]


def _jennrich_sampson(x, m):
    """13. Jennrich and Sampson function."""
    x = _float(x)
    i = _idx(m, x)
    return 2.0 + 2.0 * i - jnp.exp(i * x[0]) - jnp.exp(i * x[1])


def _brown_dennis(x, m):
    """14. Brown and Dennis function."""
    x = _float(x)
    t = _idx(m, x) / 5.0
    a = x[0] + t * x[1] - jnp.exp(t)
    b = x[2] + jnp.sin(t) * x[3] - jnp.cos(t)
    return a**2 + b**2


def _chebyquad(x, m):
    """15. Chebyquad function."""
    x = _float(x)
    y = 2.0 * x - 1.0
    t_prev, t_cur = jnp.ones_like(y), y
    moments = []
    for _ in range(m):  # Chebyshev recurrence T_{k+1} = 2 y T_k - T_{k-1}; m is static
        moments.append(jnp.mean(t_cur))
        t_prev, t_cur = t_cur, 2.0 * y * t_cur - t_prev
    exact = [1.0 / (i * i - 1.0) if i % 2 == 0 else 0.0 for i in range(1, m + 1)]
    return jnp.stack(moments) + _c(exact, x)


def _brown_almost_linear(x, m):
    """16. Brown almost-linear function."""
    x = _float(x)
    n = x.shape[0]
    s = jnp.sum(x) - (n + 1.0)
    return jnp.concatenate([x[:-1] + s, jnp.prod(x)[None] - 1.0])


def _osborne_1(x, m):
    """17. Osborne 1 function."""
    x = _float(x)
    t = 10.0 * _idx(33, x, start=0)
    return _c(_Y17, x) - (x[0] + x[1] * jnp.exp(-x[3] * t) + x[2] * jnp.exp(-x[4] * t))


def _osborne_2(x, m):
    """18. Osborne 2 function."""
    x = _float(x)
    t = _idx(65, x, start=0) / 10.0
    model = (
        x[0] * jnp.exp(-x[4] * t)
        + x[1] * jnp.exp(-x[5] * (t - x[8]) ** 2)
        + x[2] * jnp.exp(-x[6] * (t - x[9]) ** 2)
        + x[3] * jnp.exp(-x[7] * (t - x[10]) ** 2)
    )
    return _c(_Y18, x) - model


def _bdqrtic(x, m):
    """19. BDQRTIC function (m = 2(n - 4))."""
    x = _float(x)
    k = x.shape[0] - 4
    q = x**2
    quartic = q[:k] + 2.0 * q[1 : k + 1] + 3.0 * q[2 : k + 2] + 4.0 * q[3 : k + 3] + 5.0 * q[-1]
    return jnp.concatenate([3.0 - 4.0 * x[:k], quartic])


def _cube(x, m):
    """20. Cube function."""
    x = _float(x)
    return jnp.concatenate([x[:1] - 1.0, 10.0 * (x[1:] - x[:-1] ** 3)])


def _mancino(x, m):
    """21. Mancino function."""
    x = _float(x)
    n = x.shape[0]
    i = np.arange(1, n + 1, dtype=float)
    v = jnp.sqrt(x[:, None] ** 2 + _c(i[:, None] / i[None, :], x))  # v_ij, shape (n, n)
    lv = jnp.log(v)
    s = jnp.sum(v * (jnp.sin(lv) ** 5 + jnp.cos(lv) ** 5), axis=1)
    return 1400.0 * x + _c((i - 50.0) ** 3, x) + s


def _heart_8(x, m):
    """22. Heart8 (dipole model) function."""
    x = _float(x)
    a, b, c, d, t, u, v, w = (x[k] for k in range(8))
    return jnp.stack(
        [
            a + b + 0.69,
            c + d + 0.044,
            t * a + u * b - v * c - w * d + 1.57,
            v * a + w * b + t * c + u * d + 1.31,
            a * (t**2 - v**2) - 2.0 * c * t * v + b * (u**2 - w**2) - 2.0 * d * u * w + 2.65,
            c * (t**2 - v**2) + 2.0 * a * t * v + d * (u**2 - w**2) + 2.0 * b * u * w - 2.0,
            a * t * (t**2 - 3.0 * v**2)
            + c * v * (v**2 - 3.0 * t**2)
            + b * u * (u**2 - 3.0 * w**2)
            + d * w * (w**2 - 3.0 * u**2)
            + 12.6,
            c * t * (t**2 - 3.0 * v**2)
            - a * v * (v**2 - 3.0 * t**2)
            + d * u * (u**2 - 3.0 * w**2)
            - b * w * (w**2 - 3.0 * u**2)
            - 9.48,
        ]
    )


_RESIDUALS: dict[int, Callable] = {
    1: _linear_full_rank,
    2: _linear_rank_1,
    3: _linear_rank_1_zero_cols_rows,
    4: _rosenbrock,
    5: _helical_valley,
    6: _powell_singular,
    7: _freudenstein_roth,
    8: _bard,
    9: _kowalik_osborne,
    10: _meyer,
    11: _watson,
    12: _box_3d,
    13: _jennrich_sampson,
    14: _brown_dennis,
    15: _chebyquad,
    16: _brown_almost_linear,
    17: _osborne_1,
    18: _osborne_2,
    19: _bdqrtic,
    20: _cube,
    21: _mancino,
    22: _heart_8,
}


# ---------------------------------------------------------------------------------------------
# Standard starting points (as in dfoxs.m), before scaling by `factor`.
# ---------------------------------------------------------------------------------------------
def _mancino_x0(n: int) -> np.ndarray:
    r = np.sqrt(np.arange(1, n + 1)[:, None] / np.arange(1, n + 1)[None, :])
    s = np.sum(r * (np.sin(np.log(r)) ** 5 + np.cos(np.log(r)) ** 5), axis=1)
    return -8.710996e-4 * ((np.arange(1, n + 1) - 50.0) ** 3 + s)


_X0: dict[int, Callable[[int], np.ndarray] | list[float]] = {
    1: np.ones,
    2: np.ones,
    3: np.ones,
    4: [-1.2, 1.0],
    5: [-1.0, 0.0, 0.0],
    6: [3.0, -1.0, 0.0, 1.0],
    7: [0.5, -2.0],
    8: [1.0, 1.0, 1.0],
    9: [0.25, 0.39, 0.415, 0.39],
    10: [0.02, 4000.0, 250.0],
    11: lambda n: np.full(n, 0.5),
    12: [0.0, 10.0, 20.0],
    13: [0.3, 0.4],
    14: [25.0, 5.0, -5.0, -1.0],
    15: lambda n: np.arange(1, n + 1) / (n + 1.0),
    16: lambda n: np.full(n, 0.5),
    17: [0.5, 1.5, 1.0, 0.01, 0.02],
    18: [1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5],
    19: np.ones,
    20: lambda n: np.full(n, 0.5),
    21: _mancino_x0,
    22: [-0.3, -0.39, 0.3, -0.344, -1.2, 2.69, 1.59, -1.5],
}


def _start_point(nprob: int, n: int, factor: float) -> np.ndarray:
    x0 = _X0[nprob]
    x0 = np.asarray(x0(n) if callable(x0) else x0, dtype=np.float64)
    if x0.shape != (n,):
        raise ValueError(f"problem {nprob}: standard start point has shape {x0.shape}, n={n}")
    x0 = factor * x0
    x0.flags.writeable = False  # shared by the cached problem objects
    return x0


# ---------------------------------------------------------------------------------------------
# Problem objects.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LeastSquaresProblem:
    """One Moré–Wild benchmark problem ``min_x f(x) = ||F(x)||^2``.

    Hashed and compared by identity (the problems returned by :func:`more_wild_53` are cached),
    so an instance can be passed as a static argument to ``jax.jit``.

    Attributes:
        index: problem number p in 1..53 (row of the Moré–Wild table).
        nprob: residual function number in 1..22 (as in ``dfovec.m``).
        name: short problem name.
        n: number of variables.
        m: number of residuals.
        factor: multiple of the standard starting point used for ``x0``.
        x0: starting point, NumPy float64 array of shape ``(n,)``.
        residuals: JAX function ``x (n,) -> F(x) (m,)``.
        f_x0: reference value of ``f`` at ``x0``.
        f_x0_box: reference value of ``f`` at ``clip(x0, 0.1, 20)``.
        f_xt: reference value of ``f`` at ``x0 + 0.1 * (1, ..., n) / n``.
    """

    index: int
    nprob: int
    name: str
    n: int
    m: int
    factor: float
    x0: np.ndarray
    residuals: Callable[[jax.Array], jax.Array]
    f_x0: float
    f_x0_box: float
    f_xt: float

    def objective(self, x) -> jax.Array:
        """``f(x) = sum(F(x)**2)`` (scalar JAX array)."""
        r = self.residuals(x)
        return jnp.sum(r * r)

    def __repr__(self) -> str:
        return (
            f"LeastSquaresProblem(index={self.index}, name={self.name!r}, nprob={self.nprob}, "
            f"n={self.n}, m={self.m}, factor={self.factor:g})"
        )


@functools.cache
def _problems() -> tuple[LeastSquaresProblem, ...]:
    with _CSV_PATH.open(newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    problems = []
    for row in rows:
        nprob, n, m, factor = int(row["nprob"]), int(row["n"]), int(row["m"]), float(row["factor"])
        problems.append(
            LeastSquaresProblem(
                index=int(row["p"]),
                nprob=nprob,
                name=row["name"],
                n=n,
                m=m,
                factor=factor,
                x0=_start_point(nprob, n, factor),
                residuals=functools.partial(_RESIDUALS[nprob], m=m),
                f_x0=float(row["f_x0"]),
                f_x0_box=float(row["f_x0_box"]),
                f_xt=float(row["f_xt"]),
            )
        )
    return tuple(problems)


def more_wild_53() -> list[LeastSquaresProblem]:
    """The 53 Moré–Wild (2009) benchmark problems, in table order (p = 1..53)."""
    return list(_problems())
