"""A user-supplied search step: a cheap surrogate proposes points before each rigorous step.

The "expensive" objective is a fine model; the surrogate is a cheaper approximation of it
(here: the same physics with a coarse term dropped).  The search minimizes the surrogate
over a few points of the region B(x_k, θΔ_k) and proposes the best one; TRFD-S accepts it
only on sufficient decrease of the real objective, so a poor surrogate costs one
evaluation per iteration and never breaks convergence (second paper, Theorem 3.1).

A strategy is a frozen dataclass subclassing ``trfd_jax.SearchStep`` whose
``propose(view)`` returns candidate points.  ``view`` is a ``trfd_jax.SearchView``, the
stable, read-only extension point: x_k, f(x_k), the model's g_k and H_k, Δ_k, τ_k (and
F(x_k), J_k in least squares), plus ``view.model_step(radius)`` and
``view.subproblem_step(g, H, radius)``, the solver of Step 2.

    python examples/custom_search.py
"""

import dataclasses

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import trfd_jax  # noqa: E402


def expensive(x):
    """The objective: a smooth valley plus a small oscillating correction."""
    return jnp.sum((x - 1.0) ** 2 * jnp.arange(1, x.size + 1)) + 0.05 * jnp.sum(jnp.sin(5 * x))


def surrogate(x):
    """What we can afford to evaluate many times: the valley without the correction."""
    return jnp.sum((x - 1.0) ** 2 * jnp.arange(1, x.size + 1))


@dataclasses.dataclass(frozen=True)
class SurrogateSearch(trfd_jax.SearchStep):
    """Propose the best of 2n + 1 points of B(x_k, θΔ_k) according to the surrogate."""

    def propose(self, view: trfd_jax.SearchView) -> jax.Array:
        n = view.x.shape[0]
        directions = jnp.concatenate([jnp.eye(n), -jnp.eye(n), jnp.zeros((1, n))])
        # Move towards the surrogate's own minimizer, clipped to the region by the solver,
        # and also try the model's own step over the larger region θΔ_k.
        towards = jnp.ones(n) - view.x
        points = jnp.concatenate(
            [
                view.x + self.theta * view.radius * directions,
                (view.x + towards)[None],
                (view.x + view.model_step(self.theta * view.radius))[None],
            ]
        )
        best = jnp.argmin(jax.vmap(surrogate)(points))
        return points[best][None]


def main():
    x0 = jnp.full(6, -2.0)
    plain = trfd_jax.minimize(expensive, x0, max_evals=300)
    searched = trfd_jax.minimize(expensive, x0, max_evals=300, search=SurrogateSearch())
    for name, r in (("plain TRFD-S", plain), ("with surrogate search", searched)):
        h = jnp.asarray(r.history)
        reach = int(jnp.argmax(h <= float(plain.f) + 1e-6)) + 1
        print(
            f"{name:<22} f = {float(r.f):.8f}  nfev = {int(r.nfev)}  "
            f"searches accepted {int(r.n_search_successful)}/{int(r.n_search)}  "
            f"evaluations to reach plain's final value: {reach}"
        )


if __name__ == "__main__":
    main()
