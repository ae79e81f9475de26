"""Run benchmarks: ``python -m bench [NAME ...] [-- ARGS]``.

Each benchmark is a module with ``run(argv) -> int``; register it in ``BENCHMARKS`` below.
Arguments after ``--`` are passed to every selected benchmark's ``run``.
"""

from __future__ import annotations

import importlib
import sys

# name -> module path; the module's run(argv) is called.
BENCHMARKS: dict[str, str] = {
    "calendar": "bench.calendar",
    "reprojection": "bench.reprojection",  # the calendar's second figure: 1M open cases
    "seed": "bench.seed",
    "cluster": "bench.cluster",  # several instances and flow processes: docs/deploy.md
    "metrics": "bench.metrics",
    "intake": "bench.intake",
    "escalation": "bench.escalation",
    "dashboards": "bench.dashboards",  # server time and payload per dashboard page
    "faults": "bench.faults",  # load with faults injected: docs/reliability.md
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    passed: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, passed = args[:cut], args[cut + 1 :]
    if any(a in ("-h", "--help") for a in args):
        print(__doc__.strip())
        print("available:", ", ".join(BENCHMARKS))
        return 0
    if "--list" in args:
        print("\n".join(BENCHMARKS))
        return 0
    names = args or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    status = 0
    for name in names:
        print(f"== {name} ==")
        status = max(status, int(importlib.import_module(BENCHMARKS[name]).run(passed) or 0))
    return status


if __name__ == "__main__":
    sys.exit(main())
