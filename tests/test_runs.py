"""Background runs of a project step (kd_core.runtime.runs): the state a run records, the lock
that keeps two runs apart, stop, and a process that dies without a word."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kd_core.errors import KDError
from kd_core.runtime import runs
from tests.waiting import wait_until


def _recorded_script(project, seconds: float) -> list[str]:
    """A process that records a run of step "step" and works for `seconds`."""
    code = (f"import time\nfrom kd_core.runtime import runs\n"
            f"with runs.recorded({str(project)!r}, 'step', 'test run', stage=None) as folder:\n"
            f"    runs.update(folder, stage='working')\n"
            f"    time.sleep({seconds})\n")
    return [sys.executable, "-c", code]


def test_a_recorded_run_ends_completed_and_a_raising_one_failed_with_its_message(tmp_path):
    with runs.recorded(tmp_path, "step", "test run", stage=None) as folder:
        assert runs.status(tmp_path, "step")["state"] == "running"
        runs.update(folder, stage="two")
    done = runs.status(tmp_path, "step")
    assert done["state"] == "completed" and done["stage"] is None and done["error"] is None

    with pytest.raises(KDError):
        with runs.recorded(tmp_path, "step", "test run"):
            raise KDError("line 3 of seeds.txt: empty prompt")
    failed = runs.status(tmp_path, "step")
    assert failed["state"] == "failed" and failed["error"] == "line 3 of seeds.txt: empty prompt"


def test_a_second_run_of_the_same_step_is_refused_while_one_works(tmp_path):
    cmd = _recorded_script(tmp_path, 60)
    status = runs.start(tmp_path, "step", cmd, "test run", stage=None)
    try:
        wait_until(lambda: runs.status(tmp_path, "step").get("stage") == "working", 30, "the run to start working")
        with pytest.raises(KDError, match=r"the test run \(pid \d+, stage working\) is already working in"):
            runs.start(tmp_path, "step", cmd, "test run")
        # The lock holds against a run started some other way (a shell) too.
        with pytest.raises(KDError, match="another test run .* is working in"):
            with runs.recorded(tmp_path, "step", "test run"):
                pass
    finally:
        stopped = runs.stop(tmp_path, "step", wait_s=5)
    assert stopped["state"] == "cancelled"
    assert status["pid"] == stopped["pid"]


def test_stop_ends_a_run_started_from_a_shell_without_ending_the_shell(tmp_path):
    # Not a process-group leader: stop must signal the process, not a group it does not lead.
    proc = subprocess.Popen(_recorded_script(tmp_path, 60))
    try:
        wait_until(lambda: runs.status(tmp_path, "step").get("stage") == "working", 30, "the run to start working")
        assert runs.status(tmp_path, "step")["pid"] == proc.pid
        assert runs.stop(tmp_path, "step", wait_s=5)["state"] == "cancelled"
        assert proc.wait(10) != 0
    finally:
        proc.kill()


def test_a_run_whose_process_dies_silently_is_recorded_failed_with_its_last_output(tmp_path):
    cmd = [sys.executable, "-c", "print('loading models...', flush=True); import os; os._exit(3)"]
    runs.start(tmp_path, "step", cmd, "test run")
    wait_until(lambda: runs.status(tmp_path, "step")["state"] == "failed", 30, "the dead run to be noticed")
    error = runs.status(tmp_path, "step")["error"]
    assert "is gone without a final state" in error and "loading models..." in error
    assert runs.log_tail(tmp_path, "step") == "loading models..."
