"""Child processes: a stop request reaches them whatever their parent does with the signal."""

import signal
import sys
import threading

from ocelot_common.processes import Proc


def test_a_child_hears_the_stop_request_when_its_parent_ignores_and_blocks_it():
    started, done, box = threading.Event(), threading.Event(), {}

    def parent() -> None:  # a thread that blocks SIGINT in a process that ignores it, as a Ray worker does
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        box["proc"] = Proc([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"], 1)
        started.set()
        done.wait(30)  # the parent lives on (its child would get SIGTERM when it ends)

    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
    thread = threading.Thread(target=parent)
    try:
        thread.start()
        assert started.wait(10)
        proc = box["proc"]
        proc.wait_line("up", 10)  # running, so the signal meets the child itself
        proc.signal(signal.SIGINT)
        assert proc.wait(10) != 0  # ended by the signal, long before its minute is up
    finally:
        signal.signal(signal.SIGINT, ignored)
        done.set()
        thread.join()
