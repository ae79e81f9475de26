"""Run the whole suite: `python -m tests [pytest args]`.

Three pytest runs, because Prefect's test harness and Playwright's event loop must not share a
process (see STACK.md): the domain, web and CLI tests; the flow tests; the browser tests. Prints
one closing line with the totals and exits non-zero if any run failed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEPARATE = ("flows", "e2e")


def _runs() -> list[tuple[str, list[str]]]:
    main = ["tests", *[f"--ignore=tests/{name}" for name in SEPARATE]]
    runs = [("domain, web and CLI", main)]
    for name in SEPARATE:
        if any((HERE / name).glob("test_*.py")):
            runs.append((name, [f"tests/{name}"]))
    return runs


def _totals(report: Path) -> dict[str, int]:
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not report.exists():
        return totals
    for suite in ElementTree.parse(report).getroot().iter("testsuite"):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
    return totals


def main(extra: list[str]) -> int:
    status = 0
    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory() as folder:
        for index, (title, args) in enumerate(_runs()):
            report = Path(folder) / f"run{index}.xml"
            print(f"\n=== {title} ===", flush=True)
            code = subprocess.call(
                [sys.executable, "-m", "pytest", *args, f"--junitxml={report}", *extra],
                cwd=HERE.parent,
            )
            if code not in (0, 5):  # 5: nothing collected
                status = 1
            totals = _totals(report)
            bad = totals["failures"] + totals["errors"]
            failed += bad
            skipped += totals["skipped"]
            passed += totals["tests"] - bad - totals["skipped"]
            if code == 5 and index == 0:
                status = 1
    print(f"\ntotal: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
