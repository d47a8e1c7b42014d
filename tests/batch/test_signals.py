"""SIGINT and SIGTERM as one KeyboardInterrupt (batch/dispatch/signals.py): the first raises it, the next ones
are ignored so that the clean-up they would cut short runs to its end, and the handlers are given back."""

import os
import signal

import pytest

from evs_cli.batch.dispatch.signals import interrupts_as_keyboard


@pytest.mark.parametrize("first,second", [(signal.SIGTERM, signal.SIGINT), (signal.SIGINT, signal.SIGTERM),
                                          (signal.SIGINT, signal.SIGINT)])
def test_the_first_signal_interrupts_and_the_next_cannot_cut_the_clean_up(first, second):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    cleaned = False
    with pytest.raises(KeyboardInterrupt):
        with interrupts_as_keyboard():
            try:
                os.kill(os.getpid(), first)
                signal.pthread_sigmask(signal.SIG_SETMASK, [])  # delivered here at the latest
                raise AssertionError("the first signal did not interrupt")
            finally:
                os.kill(os.getpid(), second)  # a second Ctrl-C, or the parent forwarding it
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                cleaned = True
    assert cleaned
    assert {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} == before
