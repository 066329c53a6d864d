"""The ingest child's CPU by thread: what ran before the block is not counted, the main
thread's figure is its own CPU, and a thread that ran inside the block is counted."""

from __future__ import annotations

import threading
import time

from bench.datasets import ThreadCpu


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_thread_cpu_counts_the_block_alone_thread_by_thread() -> None:
    _burn(0.3)  # before the block: not counted
    with ThreadCpu() as cpu:
        start = time.thread_time()
        worker = threading.Thread(target=_burn, args=(0.3,))
        worker.start()
        _burn(0.2)
        worker.join()
        main = time.thread_time() - start
    seconds = cpu.seconds
    # The clock ticks of /proc are 10 ms; the main thread's own CPU, not what came before.
    assert abs(seconds["main thread"] - main) < 0.05
    assert seconds["main thread"] < 0.3
    # The worker (a Python thread: "other") ran 0.3 s inside the block.
    assert seconds["other"] > 0.2
    assert abs(seconds["total"] - sum(v for k, v in seconds.items() if k != "total")) < 0.05
