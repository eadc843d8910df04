"""The first paper's model-fitting application (§4.3): calibrate a predator–prey ODE.

The Rosenzweig–MacArthur model, eq. (64) of the first paper,

    dN/dt = r N (1 − N/K) − a N P / (1 + a h N)
    dP/dt = e a N P / (1 + a h N) − m P,

with prey N, predators P and parameters θ = (r, K, a, h, e, m) > 0, is solved with diffrax
(Tsit5, the counterpart of MATLAB's ode45; adaptive steps under a PID controller, relative
and absolute tolerance 1e-10, at most ``MAX_STEPS`` steps) on a fixed observation grid.
Synthetic observations are the ground-truth trajectories plus Gaussian noise, and θ is fit
by the normalised least squares of eq. (65),

    f(θ) = Σᵢ (N(tᵢ; θ) − N̂ᵢ)² / N̄² + Σᵢ (P(tᵢ; θ) − P̂ᵢ)² / P̄²,

N̄, P̄ the means of the observations, under **unrelaxable** bounds: the model is only
solved inside them.  The paper's formulas for θ*, the starts and the bounds were lost in
extraction, so this module states its own (the constants below):

* θ* = (r, K, a, h, e, m) = (0.8, 60, 0.05, 0.6, 0.4, 0.3) — prey growth per day,
  carrying capacity, attack rate, handling time, conversion efficiency, predator
  mortality; from N(0) = 20, P(0) = 5 the populations settle into damped oscillations
  towards the coexistence equilibrium (27.3, 15.8), the regime of the paper's Figure.
* Observations at tᵢ = 0, 2, …, 60 days (31 times), noise of standard deviation 5 % of
  each series' mean, drawn from ``jax.random.key(0)``.
* The order-of-magnitude vector ω = 10^⌊log₁₀ θ*⌋ = (0.1, 10, 0.01, 0.1, 0.1, 0.1): what a
  modeller knows before fitting.  The solvers work on u = θ / ω (θ = ω ⊙ u), the
  parameters in units of their order of magnitude, as a modeller who knows ω would pose
  the fit; every solver sees the same u.  Bounds 1 ≤ u ≤ 10 (ω ≤ θ ≤ 10 ω: each
  parameter within its order of magnitude); starting points u₀⁽ⁱ⁾ = 10^{hᵢ}, hᵢ the i-th
  point of the Halton sequence in bases 2, 3, 5, 7, 11, 13 (i = 1 … 171 by default):
  deterministic and spread evenly over the box in log scale.  (Without the scaling, K
  ranges over 90 and a over 0.09: Py-BOBYQA and DFO-LS refuse such a box at their default
  initial radius, and every trust-region method suffers.)

An ODE solve that fails inside the bounds (the step cap reached, a step size underflow)
makes f (and every residual) NaN: the solver treats it as a failed trial point.

    python -m trfd_jax.benchmarks.calibration --out benchmarks/results/calibration

runs the paper's comparison (data profiles of TRFD-S, Gauss–Newton ``least_squares``,
nlopt BOBYQA, Py-BOBYQA and DFO-LS on the 171 starts, budget 100 simplex gradients) and
the wall-clock figures (the 171 starts in one ``jit(vmap)`` call against a loop of BOBYQA;
how the vmapped time grows from 16 to 171 to 1024 starts).  Needs diffrax (the
``examples`` extra) and, for the peers, the ``bench`` extra.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

try:
    import diffrax
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError(
        "trfd_jax.benchmarks.predator_prey needs diffrax: pip install 'trfd_jax[examples]'"
    ) from error

__all__ = [
    "INITIAL_POPULATIONS",
    "MAGNITUDE",
    "PARAMETER_NAMES",
    "THETA_TRUE",
    "TIMES",
    "CalibrationProblem",
    "calibration_problem",
    "halton",
    "parameters",
    "simulate",
    "starting_points",
]

PARAMETER_NAMES: tuple[str, ...] = ("r", "K", "a", "h", "e", "m")
THETA_TRUE: tuple[float, ...] = (0.8, 60.0, 0.05, 0.6, 0.4, 0.3)
"""θ*, the ground truth: (r, K, a, h, e, m)."""
INITIAL_POPULATIONS: tuple[float, float] = (20.0, 5.0)
"""(N(0), P(0))."""
TIMES: tuple[float, ...] = tuple(2.0 * i for i in range(31))
"""The observation grid tᵢ (days)."""
NOISE: float = 0.05
"""Standard deviation of the observation noise, relative to each series' mean."""
SEED: int = 0
MAGNITUDE: tuple[float, ...] = tuple(10.0 ** math.floor(math.log10(v)) for v in THETA_TRUE)
"""ω, the order-of-magnitude vector: bounds ω ≤ θ ≤ 10 ω."""
TOLERANCE: float = 1e-10
"""Relative and absolute tolerance of the adaptive step-size controller."""
MAX_STEPS: int = 4096
"""Step cap of one ODE solve; a solve that needs more is a failure (f = NaN)."""
BUDGET_GRADIENTS: int = 100
"""The paper's budget: 100 simplex gradients, 100 (n + 1) = 700 evaluations."""


def _rhs(t: Any, y: jax.Array, theta: jax.Array) -> jax.Array:
    """The right-hand side of eq. (64)."""
    r, K, a, h, e, m = (theta[i] for i in range(6))
    prey, predators = y[0], y[1]
    feeding = a * prey * predators / (1.0 + a * h * prey)  # Holling type II response
    return jnp.stack([r * prey * (1.0 - prey / K) - feeding, e * feeding - m * predators])


def simulate(theta: jax.Array, *, max_steps: int = MAX_STEPS) -> jax.Array:
    """N(tᵢ; θ) and P(tᵢ; θ) on :data:`TIMES`, shape (31, 2); NaN where the solve failed.

    Args:
        theta: (r, K, a, h, e, m), shape (6,).
        max_steps: the step cap (static).
    """
    theta = jnp.asarray(theta)
    times = jnp.asarray(TIMES, theta.dtype)
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(_rhs),
        diffrax.Tsit5(),
        t0=times[0],
        t1=times[-1],
        dt0=None,
        y0=jnp.asarray(INITIAL_POPULATIONS, theta.dtype),
        args=theta,
        saveat=diffrax.SaveAt(ts=times),
        stepsize_controller=diffrax.PIDController(rtol=TOLERANCE, atol=TOLERANCE),
        max_steps=max_steps,
        throw=False,  # a failed solve is a failed trial point, not an exception
    )
    ok = diffrax.is_successful(solution.result)
    return jnp.where(ok, solution.ys, jnp.nan)


def halton(count: int, dimension: int = 6, skip: int = 1) -> np.ndarray:
    """The first ``count`` points of the Halton sequence (radical inverses in the first
    ``dimension`` primes), starting at index ``skip`` (1 leaves out the origin).

    Returns:
        shape (count, dimension), entries in (0, 1).
    """
    primes = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29][:dimension]
    if len(primes) < dimension:
        raise ValueError(f"halton: dimension {dimension} > 10 is not supported")
    out = np.empty((count, dimension))
    for j, base in enumerate(primes):
        for row, index in enumerate(range(skip, skip + count)):
            value, weight = 0.0, 1.0 / base
            while index > 0:
                index, digit = divmod(index, base)
                value += digit * weight
                weight /= base
            out[row, j] = value
    return out


def starting_points(count: int = 171) -> np.ndarray:
    """u₀⁽ⁱ⁾ = 10^{hᵢ}, i = 1 … ``count`` (Halton points hᵢ; θ₀ = ω ⊙ u₀): shape (count, 6)."""
    return 10.0 ** halton(count)


def parameters(u: jax.Array) -> jax.Array:
    """θ = ω ⊙ u: the model's parameters from the scaled variables the solvers see."""
    u = jnp.asarray(u)
    return jnp.asarray(MAGNITUDE, u.dtype) * u


@dataclasses.dataclass(frozen=True, eq=False)
class CalibrationProblem:
    """The calibration problem in the scaled variables u = θ / ω: the objective (65), its
    residuals and the bounds 1 ≤ u ≤ 10.

    Hashed and compared by identity, so an instance can be a static argument and a key of
    the peers' caches.  It has the attributes the benchmark peers use
    (:class:`trfd_jax.benchmarks.peers.Peer`): ``index``, ``name``, ``n``, ``x0``.

    Attributes:
        observations: (N̂ᵢ, P̂ᵢ), shape (31, 2).
        max_steps: the ODE step cap.
    """

    observations: np.ndarray
    max_steps: int = MAX_STEPS
    index: int = 0
    name: str = "rosenzweig-macarthur"
    n: int = 6

    @property
    def x0(self) -> np.ndarray:
        """The first starting point (used by the peers only to scale relative noise)."""
        return starting_points(1)[0]

    @property
    def lower(self) -> np.ndarray:
        """1: θ ≥ ω."""
        return np.ones(self.n)

    @property
    def upper(self) -> np.ndarray:
        """10: θ ≤ 10 ω."""
        return np.full(self.n, 10.0)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)``, unrelaxable."""
        return self.lower, self.upper

    def trajectories(self, u: jax.Array) -> jax.Array:
        """N(tᵢ; θ) and P(tᵢ; θ) at θ = ω ⊙ u, shape (31, 2); NaN where the solve failed."""
        return simulate(parameters(u), max_steps=self.max_steps)

    def residuals(self, u: jax.Array) -> jax.Array:
        """F(u) = ((N(tᵢ; θ) − N̂ᵢ)/N̄, (P(tᵢ; θ) − P̂ᵢ)/P̄), shape (62,): f = ‖F‖²."""
        observed = jnp.asarray(self.observations, jnp.asarray(u).dtype)
        scaled = (self.trajectories(u) - observed) / observed.mean(axis=0)
        return scaled.T.reshape(-1)

    def objective(self, u: jax.Array) -> jax.Array:
        """f of eq. (65) at θ = ω ⊙ u, a scalar; NaN where the ODE solve failed."""
        r = self.residuals(u)
        return jnp.sum(r * r)


def calibration_problem(
    *, seed: int = SEED, noise: float = NOISE, **kwargs: Any
) -> CalibrationProblem:
    """The synthetic data set and its problem (float64 observations).

    Args:
        seed: seed of the observation noise (``jax.random.key(seed)``).
        noise: its standard deviation relative to each series' mean.
        **kwargs: further :class:`CalibrationProblem` fields (``max_steps``).
    """
    with jax.enable_x64(True):  # the data are float64 whatever the caller's mode
        exact = simulate(jnp.asarray(THETA_TRUE, jnp.float64))
        sd = noise * exact.mean(axis=0)
        observed = exact + sd * jax.random.normal(jax.random.key(seed), exact.shape, exact.dtype)
        observed = np.asarray(observed)
    return CalibrationProblem(observed, **kwargs)
