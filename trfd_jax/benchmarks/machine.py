"""Facts about the machine a benchmark ran on, printed and stored with its results."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine_info() -> dict:
    """CPU model, core count, Python, jax version and backend."""
    import jax

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
    }


def save_json(path: Path | None, results: dict) -> None:
    """Write a benchmark's results as JSON to ``path`` (nothing when it is None)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2))
