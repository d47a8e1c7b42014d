"""What a finished run ends as (batch/run.py: outcome), from which the command's exit code follows."""

import pytest

from evs_cli.batch.run import Outcome, outcome


@pytest.mark.parametrize("counts,log_failed,fatal,devices,expected", [
    ({"ok": 3, "skipped": 2}, False, 0, 1, Outcome.OK),
    ({}, False, 0, 2, Outcome.OK),  # nothing selected: nothing left undone
    ({"ok": 3, "failed": 1}, False, 0, 1, Outcome.FAILED),
    ({"ok": 3}, True, 0, 1, Outcome.FAILED),  # every video refined, but its log could not be written
    ({"ok": 1, "held": 2}, False, 0, 1, Outcome.HELD),
    ({"failed": 1, "held": 2}, False, 0, 1, Outcome.FAILED),  # a failure outweighs a hold
    ({"failed": 4}, False, 2, 2, Outcome.SETUP),  # no worker could start
    ({"ok": 4}, False, 1, 2, Outcome.OK),  # one of two devices could not start: the other refined all
    ({"failed": 4}, False, 1, 2, Outcome.FAILED),
    ({"failed": 4}, False, 3, 0, Outcome.FAILED),  # on Ray: actors that cannot start end the run sooner
    ({"ok": 0, "held": 0, "failed": 0}, False, 0, 1, Outcome.OK),
])
def test_a_run_ends_as_its_worst_outcome(counts, log_failed, fatal, devices, expected):
    assert outcome(counts, log_failed, fatal, devices) is expected
