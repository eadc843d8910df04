"""The ODE calibration with its starts sharded over 1, 2, … host CPU devices.

Each device count runs in a fresh process (JAX fixes the count when it starts:
``XLA_FLAGS=--xla_force_host_platform_device_count=D``), timing one
``jax.jit(jax.vmap(minimize))`` call over the starts, sharded with a ``NamedSharding``
over a ``"starts"`` mesh axis (:func:`trfd_jax.benchmarks.calibration.time_trfd`):
medians of ``--repeats`` first calls (compilation included) and later calls.

    python -m trfd_jax.benchmarks.sharded --out benchmarks/results/sharded.json

The default 172 starts (the paper's 171 and one more, so that they split evenly over 2 and
4 devices) on 1 and 2 devices take about 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def run(devices: int, starts: int, repeats: int) -> dict[str, Any]:
    """The calibration's wall clock in a fresh process with ``devices`` host devices."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}"
    ).strip()
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable, "-m", "trfd_jax.benchmarks.calibration", "--parts", "wallclock",
            "--peers", "--shard", "--starts", str(starts), "--repeats", str(repeats),
            "--out", folder,
        ]  # fmt: skip
        subprocess.run(command, env=env, check=True)
        return json.loads((Path(folder) / "calibration.json").read_text())["timing"]["trfd_jax"]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--starts", type=int, default=172)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="JSON file")
    args = parser.parse_args(argv)
    rows = [run(d, args.starts, args.repeats) for d in args.devices]
    base = rows[0]
    print(f"\nODE calibration, {args.starts} starts, medians of {args.repeats}:")
    print("| host devices | with compilation (s) | warm (s) | warm speed-up |")
    print("|---|---|---|---|")
    for d, row in zip(args.devices, rows, strict=True):
        print(
            f"| {d} | {row['wall_with_compile_s']:.2f} | {row['wall_s']:.2f} | "
            f"{base['wall_s'] / row['wall_s']:.2f}x |"
        )
    results = {"devices": args.devices, "starts": args.starts, "rows": rows}
    if args.out is not None:
        from trfd_jax.benchmarks.machine import machine_info, save_json

        save_json(args.out, {"machine": machine_info(), **results})
    return results


if __name__ == "__main__":
    main()
