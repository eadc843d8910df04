"""A black-box objective written with NumPy/SciPy: fit a damped oscillator to data.

The model x'' + 2ζω x' + ω² x = 0 is integrated by SciPy's ``solve_ivp`` (not JAX), so the
objective reaches trfd_jax through ``trfd_jax.black_box``.  The damping ratio ζ and the
frequency ω must stay positive — the ODE is only solved inside unrelaxable bounds.

    python examples/black_box_numpy.py
"""

import jax
import numpy as np
from scipy.integrate import solve_ivp

jax.config.update("jax_enable_x64", True)

import trfd_jax  # noqa: E402

T = np.linspace(0.0, 10.0, 60)
TRUE = np.array([0.15, 2.0])  # ζ, ω


def simulate(params: np.ndarray) -> np.ndarray:
    zeta, omega = params
    if zeta <= 0 or omega <= 0:
        raise ValueError(f"the simulator was called outside its domain: {params}")

    def rhs(t, y):
        return [y[1], -2 * zeta * omega * y[1] - omega**2 * y[0]]

    sol = solve_ivp(rhs, (T[0], T[-1]), [1.0, 0.0], t_eval=T, rtol=1e-10, atol=1e-12)
    return sol.y[0]


DATA = simulate(TRUE) + 0.01 * np.random.default_rng(0).standard_normal(T.size)


def misfit(params: np.ndarray) -> float:
    return float(np.sum((simulate(params) - DATA) ** 2))


def main():
    objective = trfd_jax.black_box(misfit)
    bounds = (np.array([1e-3, 0.1]), np.array([2.0, 10.0]))  # (lower, upper)
    result = trfd_jax.minimize(objective, np.array([0.5, 1.0]), bounds=bounds, max_evals=200)
    print(f"fitted ζ = {float(result.x[0]):.4f}, ω = {float(result.x[1]):.4f}   (true {TRUE})")
    print(f"misfit {float(result.f):.4e} after {int(result.nfev)} simulations")
    print(f"host simulations: {objective.host_evaluations}   status: {result.message}")


if __name__ == "__main__":
    main()
