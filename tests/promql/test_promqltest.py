"""Cases in Prometheus's own test-file format, evaluated by Heron.

``tests/promql/testdata/*.test`` are Heron's own cases. Prometheus's test files
(``promql/promqltest/testdata`` of its repository, or ``promql/testdata`` before 2.51) can be
run too by pointing ``HERON_PROMQLTEST_DIR`` at a copy of that directory; their pass counts
are printed and recorded in docs/promql.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import RunningServer
from tests.promql.promqltest import run_file

OWN = sorted((Path(__file__).parent / "testdata").glob("*.test"))


@pytest.mark.parametrize("path", OWN, ids=[p.name for p in OWN])
def test_heron_cases_in_the_promql_test_format_pass(server: RunningServer, path: Path) -> None:
    with server.client() as c:
        outcome = run_file(c, server.url, server.auth, path.read_text(), path.name)
    assert not outcome.failed, "\n".join(outcome.failed)
    assert outcome.passed > 10 and outcome.skipped == 0


@pytest.mark.skipif(not os.environ.get("HERON_PROMQLTEST_DIR"), reason="HERON_PROMQLTEST_DIR is not set")
def test_prometheus_test_files_report(server: RunningServer) -> None:
    """Runs every file of ``HERON_PROMQLTEST_DIR`` and prints how many evals pass (a report, not a gate)."""
    directory = Path(os.environ["HERON_PROMQLTEST_DIR"])
    passed = failed = skipped = 0
    with server.client() as c:
        for path in sorted(directory.glob("*.test")):
            outcome = run_file(c, server.url, server.auth, path.read_text(), path.name)
            passed, failed, skipped = passed + outcome.passed, failed + len(outcome.failed), skipped + outcome.skipped
            print(f"{path.name}: {outcome.passed} passed, {len(outcome.failed)} failed, {outcome.skipped} skipped")
            for line in outcome.failed:
                print("   ", line[:240])
    print(f"promqltest: {passed} passed, {failed} failed, {skipped} skipped")
    assert passed > 0
