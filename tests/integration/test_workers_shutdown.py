# Graceful shutdown: SIGTERM while delayed requests run. Each request gets its answer, the
# node exits 0 and leaves no worker behind.
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import MOCK_DELAY, gone
from test_workers_faults import delay_request, submitted_requests, wait_for, worker_pids


def test_sigterm_with_requests_in_flight(node, model_repo):
    cfg = dict(MOCK_DELAY, delay_ms=1000, workers={"min": 2, "max": 2})
    n = node(repo=model_repo({"delay": cfg}), args=["--log-level", "debug"])
    pids = wait_for(lambda: len(worker_pids(n)) == 2 and worker_pids(n), 10, "2 workers")
    with ThreadPoolExecutor(8) as ex:
        futs = [ex.submit(delay_request, n, 1000) for _ in range(8)]
        wait_for(lambda: submitted_requests(n, "delay") >= 8, 15, "8 requests submitted")
        n.proc.send_signal(signal.SIGTERM)
        statuses = [f.result(timeout=60) for f in futs]
    assert statuses == [200] * 8
    assert n.proc.wait(timeout=30) == 0
    for pid in pids:
        wait_for(lambda: gone(pid), 10, "worker %d gone" % pid)
    log = n.log_text()
    assert "scheduler draining" in log
    for pid in pids:
        assert "pid=%d status=0" % pid in log, log[-3000:]


def test_sigterm_idle_node_stops_workers(node, model_repo):
    cfg = dict(MOCK_DELAY, workers={"min": 3, "max": 3})
    n = node(repo=model_repo({"delay": cfg}))
    pids = wait_for(lambda: len(worker_pids(n)) == 3 and worker_pids(n), 10, "3 workers")
    start = time.monotonic()
    n.proc.send_signal(signal.SIGTERM)
    assert n.proc.wait(timeout=30) == 0
    assert time.monotonic() - start < 25
    for pid in pids:
        wait_for(lambda: gone(pid), 10, "worker %d gone" % pid)
    assert not os.path.exists("/proc/%d/task" % n.pid) or gone(n.pid)
