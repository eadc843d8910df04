"""Benchmark tooling: profile math on hand-made histories, the peers' recorder, the noise,
and a smoke run of the Moré–Wild runner on three small problems (Moré & Wild 2009)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trfd_jax.benchmarks import profiles
from trfd_jax.benchmarks.more_wild import more_wild_53
from trfd_jax.benchmarks.peers import PEERS, Noise, Peer, Recorder
from trfd_jax.benchmarks.runner import load, main, noisy_jax, run_benchmark

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def step_history(budget: float, f0: float, t: int, value: float) -> np.ndarray:
    """f0 for the first t − 1 evaluations, then ``value``."""
    h = np.full(int(budget), f0)
    h[t - 1 :] = value
    return h


@pytest.fixture
def two_problems():
    """Two problems (n = 1 and n = 3, budgets 200 and 400), two solvers A and B.

    A solves p0 exactly at t = 10 (κ = 5) and p1 at t = 40 (κ = 10).  B reaches 0.5 on p0
    at t = 20 (κ = 10) and never improves on p1.  f(x₀) = 10 and f_L = 0 on both.
    """
    f0 = np.array([10.0, 10.0])
    n = np.array([1, 3])
    histories = [
        np.stack([step_history(200, 10.0, 10, 0.0), step_history(200, 10.0, 20, 0.5)]),
        np.stack([step_history(400, 10.0, 40, 0.0), np.full(400, 10.0)]),
    ]
    return histories, f0, n


def test_solve_evaluations_by_hand(two_problems):
    histories, f0, _ = two_problems
    np.testing.assert_array_equal(profiles.lowest_values(histories, f0), [0.0, 0.0])
    # τ = 0.1: cutoff f_L + τ (f0 − f_L) = 1, so B's 0.5 counts on p0.
    t = profiles.solve_evaluations(histories, f0, 0.1)
    np.testing.assert_array_equal(t, [[10.0, 20.0], [40.0, np.inf]])
    # τ = 1e-3: cutoff 0.01, B solves nothing.
    t = profiles.solve_evaluations(histories, f0, 1e-3)
    np.testing.assert_array_equal(t, [[10.0, np.inf], [40.0, np.inf]])


def test_data_profile_and_area_by_hand(two_problems):
    histories, f0, n = two_problems
    t = profiles.solve_evaluations(histories, f0, 0.1)
    kappa = np.array([0.0, 4.99, 5.0, 9.99, 10.0, 100.0])
    d = profiles.data_profile(t, n, kappa)
    np.testing.assert_array_equal(d[:, 0], [0.0, 0.0, 0.5, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(d[:, 1], [0.0, 0.0, 0.0, 0.0, 0.5, 0.5])
    # Area / 100: A = ((100 − 5) + (100 − 10)) / 2 / 100; B = (100 − 10) / 2 / 100.
    area = profiles.data_profile_area(t, n)
    np.testing.assert_allclose(area, [0.925, 0.45], rtol=0, atol=1e-15)
    # The closed form is the integral of the step function.
    grid = np.linspace(0.0, 100.0, 200_001)
    numeric = profiles.data_profile(t, n, grid).mean(axis=0)
    np.testing.assert_allclose(numeric, area, atol=1e-4)
    table = profiles.area_table(histories, f0, n, tolerances=(0.1, 1e-3))
    np.testing.assert_allclose(table, [[0.925, 0.45], [0.925, 0.0]], atol=1e-15)
    text = profiles.format_area_table(table, ["A", "B"], (0.1, 1e-3))
    assert "| A | **0.925** | **0.925** |" in text


def test_performance_profile_by_hand(two_problems):
    histories, f0, _ = two_problems
    t = profiles.solve_evaluations(histories, f0, 0.1)
    r = profiles.performance_ratios(t)
    np.testing.assert_array_equal(r, [[1.0, 2.0], [1.0, np.inf]])
    rho = profiles.performance_profile(r, [1.0, 1.5, 2.0, 1e9])
    np.testing.assert_array_equal(rho, [[1.0, 0.0], [1.0, 0.0], [1.0, 0.5], [1.0, 0.5]])
    # A problem nobody solves is a failure for every solver.
    r = profiles.performance_ratios([[np.inf, np.inf], [3.0, 6.0]])
    np.testing.assert_array_equal(r, [[np.inf, np.inf], [1.0, 2.0]])


def test_profile_edge_cases():
    # Nobody improves on f(x0): f_L = f(x0), everyone is solved at t = 1.
    histories = [np.full((2, 30), 4.0)]
    t = profiles.solve_evaluations(histories, [4.0], 1e-7)
    np.testing.assert_array_equal(t, [[1.0, 1.0]])
    # NaN and inf are never credited and never lower f_L; the cutoff itself counts.
    h = np.array(
        [
            [np.nan, -np.inf, 5.0, 5.0, 0.0],  # f_L = 0 comes from here, at t = 5
            [10.0, np.nan, 5.0, 5.0, 5.0],  # 5 = f_L + 0.5 (f0 − f_L): solved at t = 3
        ]
    )
    assert profiles.lowest_values([h], [10.0])[0] == 0.0
    t = profiles.solve_evaluations([h], [10.0], 0.5)
    np.testing.assert_array_equal(t, [[3.0, 3.0]])
    t = profiles.solve_evaluations([h], [10.0], 0.1)
    np.testing.assert_array_equal(t, [[5.0, np.inf]])


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib not installed")
def test_plot_profiles(tmp_path, two_problems):
    histories, f0, n = two_problems
    for kind in ("data", "performance"):
        path = profiles.plot_profiles(
            histories, f0, n, ["A", "B"], tmp_path / f"{kind}.png", kind=kind
        )
        assert path.stat().st_size > 1000


def test_recorder_history_budget_and_noise_convention():
    problem = more_wild_53()[6]  # Rosenbrock, n = 2
    recorder = Recorder(problem, budget=4)
    for x in ([-1.2, 1.0], [1.0, 1.0], [0.0, 0.0], [2.0, 2.0], [1.0, 1.0], [1.0, 1.0]):
        recorder(np.array(x))
    assert recorder.nfev == 6 and recorder.overshoot == 2
    np.testing.assert_allclose(recorder.history(), [24.2, 0.0, 0.0, 0.0])
    # Noisy runs: the noiseless value at the lowest *noisy* point so far (may go up).
    recorder = Recorder(problem, budget=5)
    recorder.noisy, recorder.clean = [3.0, 2.0, np.nan, 2.5, 1.0], [3.1, 2.9, 0.0, 0.1, 1.2]
    np.testing.assert_allclose(recorder.history(), [3.1, 2.9, 2.9, 2.9, 1.2])
    # Fewer evaluations than the budget: padded with the last value.
    recorder.noisy, recorder.clean = [3.0, 2.0], [3.1, 2.9]
    np.testing.assert_allclose(recorder.history(), [3.1, 2.9, 2.9, 2.9, 2.9])


def test_recorder_noise_and_residuals():
    problem = more_wild_53()[6]
    noise = Noise(0.1, "absolute", seed=3)
    recorder = Recorder(problem, budget=100, noise=noise)
    x = np.array([0.5, 0.5])
    r = recorder.residuals(x)
    clean = float(np.sum(np.asarray(problem.residuals(x)) ** 2))
    assert recorder.clean[-1] == pytest.approx(clean)
    # DFO-LS sees ‖F̃‖² = f̃ + √3 σ: the noisy objective up to a constant.
    assert float(r @ r) == pytest.approx(recorder.noisy[-1] + math.sqrt(3.0) * 0.1)
    values = [recorder(x) for _ in range(50)]
    assert len(set(values)) == 50  # a new draw at every call
    assert max(abs(v - clean) for v in values) <= math.sqrt(3.0) * 0.1
    assert Noise(1e-3).sigma(-50.0) == pytest.approx(0.05)
    assert Noise(1e-3).sigma(0.5) == pytest.approx(1e-3)


def test_jax_noise_is_a_deterministic_hash_of_x():
    key = jax.random.key(0)
    sigma = jnp.asarray(2.0)
    x = jnp.asarray([1.0, 2.0])
    assert noisy_jax(x, key, sigma) == noisy_jax(x, key, sigma)
    points = jnp.asarray(np.random.default_rng(0).normal(size=(4000, 2)))
    e = np.asarray(jax.vmap(lambda p: noisy_jax(p, key, sigma))(points))
    assert np.all(np.abs(e) <= math.sqrt(3.0) * 2.0)
    assert abs(e.mean()) < 0.1 and abs(e.std() - 2.0) < 0.1
    # A one-ulp change of x gives another draw.
    assert noisy_jax(jnp.nextafter(x, 3.0), key, sigma) != noisy_jax(x, key, sigma)


def test_unavailable_peers_give_a_reason():
    fake = Peer("fake", "no_such_module_xyz", "no-such-dist", "fake", solve=lambda *a: "")
    assert "not installed" in fake.unavailable()
    assert fake.version() == "missing"
    assert PEERS["newuoa"].unavailable((0.1, 20.0)) == "newuoa does not take bounds"


def _peers_installed(bounded: bool) -> list[str]:
    bounds = (0.1, 20.0) if bounded else None
    return [name for name in ("newuoa", "bobyqa", "lbfgsb") if not PEERS[name].unavailable(bounds)]


def test_runner_smoke(tmp_path):
    pytest.importorskip("scipy")
    solvers = ["trfd_jax", *_peers_installed(bounded=False)]
    bench = run_benchmark(
        "unconstrained",
        solvers,
        problems=[7, 9, 13],
        out=tmp_path,
        progress=False,
        plots=HAS_MATPLOTLIB,
    )
    folder = tmp_path / "unconstrained"
    expected = ["histories.npz", "metadata.json", "table.md", "per_problem.csv"]
    if HAS_MATPLOTLIB:
        expected += ["data_profiles.png", "performance_profiles.png"]
    for name in expected:
        assert (folder / name).stat().st_size > 0, name
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["solvers"] == solvers and metadata["problems"] == [7, 9, 13]
    assert {"cpu", "cores", "jax"} <= set(metadata["machine"])
    loaded = load(folder)
    assert loaded.solvers == solvers
    for s in solvers:
        for k, b in enumerate(loaded.budget):
            h = loaded.histories[s][k, :b]
            assert b == 100 * (loaded.n[k] + 1)
            assert np.all(np.isfinite(h)) and np.all(np.diff(h) <= 0), (s, k)
            assert np.all(np.isnan(loaded.histories[s][k, b:]))
            assert h[0] == pytest.approx(loaded.f0[k])
    np.testing.assert_array_equal(loaded.histories["trfd_jax"], bench.histories["trfd_jax"])
    areas = profiles.area_table(loaded.per_problem(), loaded.f0, loaded.n)
    assert areas.shape == (4, len(solvers))
    assert np.all((areas >= 0) & (areas <= 1))
    # trfd_jax solves all three at τ = 1e-1 within the budget.
    assert areas[0, 0] > 0.5
    redrawn = main(["profile", "--out", str(tmp_path), "--no-plots"])
    np.testing.assert_allclose(redrawn[str(folder)], areas)


def test_runner_smoke_noisy_bounded(tmp_path):
    pytest.importorskip("scipy")
    solvers = ["trfd_jax", "lbfgsb"]
    bench = run_benchmark(
        "bounded",
        [*solvers, "newuoa"],  # NEWUOA takes no bounds: skipped with a reason
        problems=[7],
        noise=Noise(1e-5, "relative", seed=1),
        out=tmp_path,
        progress=False,
        plots=False,
    )
    folder = tmp_path / "bounded-noise-relative-1e-05"
    assert (folder / "histories.npz").exists() and (folder / "table.md").exists()
    f0 = float(np.sum(np.asarray(more_wild_53()[6].residuals(np.array([0.1, 1.0]))) ** 2))
    assert bench.f0[0] == pytest.approx(f0)  # x₀ = (−1.2, 1) clipped into [0.1, 20]²
    for s in solvers:
        h = bench.histories[s][0]
        assert h.shape == (300,) and np.all(np.isfinite(h))
        assert h[0] == pytest.approx(f0)  # noiseless f at x₀
    assert bench.solvers == solvers and "newuoa" in bench.metadata["skipped"]
    run = bench.metadata["runs"]["lbfgsb"][7]
    assert run["outside"] == 0 and run["nfev"] >= 1


def test_trfd_variants_in_the_runner():
    from trfd_jax.benchmarks.runner import run_trfd_jax

    problems = [p for p in more_wild_53() if p.index in (7, 13)]  # n = 2, m = 2
    plain, _ = run_trfd_jax(problems, variant="trfd_jax")
    gn, runs = run_trfd_jax(problems, variant="trfd_jax_gn")
    for index in (7, 13):
        h = gn[index]
        assert h.shape == (300,) and np.all(np.diff(h) <= 0)
        assert h[0] == pytest.approx(plain[index][0])  # same f(x₀)
        assert runs[index]["nfev"] <= 300
    # Rosenbrock is a zero-residual problem: the Gauss–Newton search gets there sooner.
    solved = [int(np.argmax(h < 1e-10)) for h in (plain[7], gn[7])]
    assert solved[1] < solved[0]
    with pytest.raises(ValueError, match="noiseless"):
        run_trfd_jax(problems, noise=Noise(1e-3, "relative"), variant="trfd_jax_gn")


@pytest.mark.slow  # benchmark-like: compiles the bounded and unconstrained batch and a loop
def test_bounded_multistart_smoke(tmp_path):
    from trfd_jax.benchmarks import bounded_multistart

    out = tmp_path / "bounded.json"
    results = bounded_multistart.main(
        ["--starts", "4", "--repeats", "1", "--check", "2", "--out", str(out)]
    )
    row = results["rows"][0]
    assert out.exists() and row["bounded"]["starts"] == 4
    assert row["bounded"]["loop_checked"] == 2
    assert row["unconstrained"]["memory_bytes_per_start"] > 0


def test_noisy_history_starts_at_f_x0_when_the_probe_looks_better():
    """x₀ = 0 minimises the noiseless f, but the noise makes every other point look lower:
    the first evaluation (x₀) is credited with f(x₀) = 0, not with the truly worse point
    of init's noise probe that becomes the noisy best later in the same batch."""
    import trfd_jax
    from trfd_jax.benchmarks.runner import _noisy_run

    def clean(x, args):
        return jnp.sum(x**2)

    def noisy(x, args):
        return clean(x, args) - jnp.where(jnp.any(x != 0.0), 1.0, 0.0)

    options = dataclasses.replace(trfd_jax.Options.paper(), noise_level="auto")
    run = jax.jit(lambda x0: _noisy_run(noisy, clean, x0, jnp.zeros(()), 30, options, None))
    _, history, _ = run(jnp.zeros(2))
    history = np.asarray(history)
    assert history[0] == 0.0
    assert history[1] > 0.0  # the probe's point, truly worse, is the best noisy point


def test_recompile_benchmark_compiles_one_solver_per_loop(tmp_path):
    from trfd_jax.benchmarks import recompile

    rows = recompile.main(["--calls", "3", "--out", str(tmp_path / "recompile.json")])
    # Three new data sets, three new host functions: at most one program each (none where
    # an earlier test compiled the same one), every fit near the noise level.
    assert rows["closure over new data"]["compiled"] <= 1
    assert rows["new black_box"]["compiled"] <= 1
    assert rows["closure over new data"]["median_f"] < 1e-3
    assert (tmp_path / "recompile.json").exists()
