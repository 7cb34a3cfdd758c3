"""The reliability suite's set-up: Hypothesis profiles, the kill fixture, and the figures the
run reports at its end (inputs fuzzed per loader, kills survived per case).

``CNNSTUDIO_RELIABILITY=long`` selects the ``long`` profile (many more inputs per loader and
kills per case); the default keeps the suite within the normal test run's time budget.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from hostile import FUZZED, KILLED, KILLS, LONG, Child

# Derandomized by default, so the normal run is repeatable; the long run explores afresh.
# The deadline is generous (2 cores shared with other tests): it catches hangs, not slowness.
_QUIET = dict(database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                    HealthCheck.data_too_large])
settings.register_profile("default", max_examples=60, deadline=5000, derandomize=True, **_QUIET)
settings.register_profile("long", max_examples=1000, deadline=20000, **_QUIET)
settings.load_profile("long" if LONG else "default")


def pytest_terminal_summary(terminalreporter):
    """The figures the issue asks for: inputs tried per loader, kills survived per case."""
    if not (FUZZED or KILLED):
        return
    terminalreporter.section(f"reliability ({'long' if LONG else 'default'} profile)")
    for loader, n in sorted(FUZZED.items()):
        terminalreporter.write_line(f"fuzzed {n:6d} inputs: {loader}")
    for case, n in sorted(KILLED.items()):
        terminalreporter.write_line(f"killed {n:6d} times:  {case}")


@pytest.fixture
def kill_at_random():
    """``kill_at_random(case, code, cwd, check, low, high)``: :data:`KILLS` times, start a child
    running ``code``, wait until it is ready, kill it with SIGKILL after a random delay between
    ``low`` and ``high`` seconds, then call ``check(i)``; each survived kill is counted for ``case``."""
    rng = random.Random(16)

    def run(case: str, code: str, cwd: Path, check, low: float = 0.0, high: float = 0.2) -> None:
        for i in range(KILLS):
            child = Child(code, cwd)
            child.wait_ready()
            time.sleep(rng.uniform(low, high))
            assert child.proc.poll() is None, f"child ended before the kill: {child.proc.stderr.read()}"
            child.kill()
            check(i)
            KILLED[case] += 1

    return run
