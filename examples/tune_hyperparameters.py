"""Inside research code: tune two hyper-parameters of an optax training run, per seed.

The objective is JAX-native: it trains a small logistic-regression model with optax's
AdamW for a fixed number of full-batch steps (``lax.scan``) and returns the validation
loss, as a function of (log₁₀ learning rate, log₁₀ weight decay).  Differentiating
through hundreds of training steps is costly in memory and often unstable; a
derivative-free solver needs only the loss.  ``minimize`` is called inside ``jax.vmap``
over data sets, on a closure over the (traced) data — no ``args=`` plumbing — and
everything compiles into one call.

    pip install -e . && python examples/tune_hyperparameters.py
"""

import os

import jax
import jax.numpy as jnp
import optax

jax.config.update("jax_enable_x64", True)
import trfd_jax  # noqa: E402

QUICK = os.environ.get("TRFD_EXAMPLES_QUICK") == "1"  # CI runs a reduced size
SEEDS = 4 if QUICK else 16
STEPS = 100 if QUICK else 300  # training steps per evaluation
FEATURES, TRAIN, VALID = 20, 64, 512


def make_data(key):
    """A logistic-regression data set with label noise: few training points, many
    features, so that weight decay matters."""
    k1, k2, k3 = jax.random.split(key, 3)
    w = jax.random.normal(k1, (FEATURES,))
    x = jax.random.normal(k2, (TRAIN + VALID, FEATURES))
    flip = jax.random.bernoulli(k3, 0.1, (TRAIN + VALID,))
    y = jnp.where(flip, x @ w < 0, x @ w > 0).astype(x.dtype)
    return {"x": x[:TRAIN], "y": y[:TRAIN], "x_valid": x[TRAIN:], "y_valid": y[TRAIN:]}


def loss(w, x, y):
    return jnp.mean(optax.sigmoid_binary_cross_entropy(x @ w, y))


def validation_loss(hyper, data):
    """Train from w = 0 with AdamW(10^hyper[0], weight_decay=10^hyper[1]); validation loss."""
    optimizer = optax.adamw(10.0 ** hyper[0], weight_decay=10.0 ** hyper[1])

    def train_step(carry, _):
        w, state = carry
        grads = jax.grad(loss)(w, data["x"], data["y"])
        updates, state = optimizer.update(grads, state, w)
        return (optax.apply_updates(w, updates), state), None

    w0 = jnp.zeros(FEATURES)
    (w, _), _ = jax.lax.scan(train_step, (w0, optimizer.init(w0)), length=STEPS)
    return loss(w, data["x_valid"], data["y_valid"])


def tune(data):
    # A closure over this seed's data (traced under vmap): no args= needed.
    return trfd_jax.minimize(
        lambda hyper: validation_loss(hyper, data),
        jnp.array([-2.0, -2.0]),  # start: learning rate 1e-2, weight decay 1e-2
        bounds=(jnp.array([-4.0, -4.0]), jnp.array([0.0, 1.0])),
        max_evals=60,
    )


def main():
    datasets = jax.vmap(make_data)(jax.random.split(jax.random.key(0), SEEDS))
    results = jax.jit(jax.vmap(tune))(datasets)
    default = jax.vmap(lambda d: validation_loss(jnp.array([-2.0, -2.0]), d))(datasets)

    header = f"{'seed':>4}{'log10 lr':>10}{'log10 wd':>10}{'start loss':>12}{'tuned loss':>12}"
    print(f"{header}{'nfev':>6}")
    for s in range(SEEDS):
        lr, wd = (float(v) for v in results.x[s])
        print(
            f"{s:>4}{lr:>10.2f}{wd:>10.2f}{float(default[s]):>12.4f}"
            f"{float(results.f[s]):>12.4f}{int(results.nfev[s]):>6}"
        )
    improved = int(jnp.sum(results.f < default))
    print(f"validation loss lowered on {improved} of {SEEDS} seeds")


if __name__ == "__main__":
    main()
