# Worker faults: a worker killed with SIGKILL while it holds requests, and a hung (SIGSTOPped)
# worker. Every request must still be answered, the batch retried on another worker, and the
# model must come back (a new worker, readiness again).
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import MOCK_DELAY


def worker_pids(n):
    """Children of the node, from every thread (Node.worker_pids)."""
    return n.worker_pids()


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


def delay_request(n, delay_ms, timeout=60.0):
    status, _body = n.infer("delay", [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2],
                                       "data": [1.5, -2.0]}],
                            extra={"parameters": {"delay_ms": delay_ms}}, timeout=timeout)
    return status


def submitted_requests(n, model):
    total = 0
    for line in n.log_text().splitlines():
        if "batch submitted model=%s " % model in line and "requests=" in line:
            total += int(line.split("requests=")[1].split()[0])
    return total


def test_kill9_worker_with_requests_in_flight(node, model_repo):
    cfg = dict(MOCK_DELAY, delay_ms=800, workers={"min": 1, "max": 1})
    n = node(repo=model_repo({"delay": cfg}), args=["--log-level", "debug"])
    old = wait_for(lambda: worker_pids(n), 10, "the worker")
    assert len(old) == 1
    with ThreadPoolExecutor(8) as ex:
        futs = [ex.submit(delay_request, n, 800) for _ in range(8)]
        wait_for(lambda: submitted_requests(n, "delay") >= 8, 15, "8 requests submitted")
        os.kill(old[0], signal.SIGKILL)
        statuses = [f.result(timeout=90) for f in futs]
    # Each request was answered: retried on the new worker (200) or failed (500).
    assert all(s in (200, 500) for s in statuses), statuses
    assert n.wait_log("pid=%d signal=9" % old[0], 10), n.log_text()[-3000:]
    new = wait_for(lambda: [p for p in worker_pids(n) if p != old[0]], 15, "a new worker")
    assert old[0] not in new
    wait_for(lambda: n.request("GET", "/v2/health/ready", timeout=5)[0] == 200, 15,
             "readiness after the restart")
    assert delay_request(n, 10) == 200
    assert n.alive()


def test_hung_worker_is_killed_and_batch_retried(node, model_repo):
    cfg = dict(MOCK_DELAY, delay_ms=300, hang_timeout_ms=400, workers={"min": 1, "max": 1})
    n = node(repo=model_repo({"delay": cfg}), args=["--log-level", "debug"])
    old = wait_for(lambda: worker_pids(n), 10, "the worker")
    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(delay_request, n, 1500)
        wait_for(lambda: submitted_requests(n, "delay") >= 1, 15, "the request submitted")
        os.kill(old[0], signal.SIGSTOP)
        status = fut.result(timeout=60)
    assert status == 200
    log = n.log_text()
    assert "worker killed model=delay" in log and "reason=hang" in log, log[-3000:]
    assert "pid=%d signal=9" % old[0] in log
    new = wait_for(lambda: [p for p in worker_pids(n) if p != old[0]], 15, "a new worker")
    assert new


def test_requests_keep_flowing_after_many_kills(node, model_repo):
    cfg = dict(MOCK_DELAY, delay_ms=50, workers={"min": 2, "max": 2})
    n = node(repo=model_repo({"delay": cfg}))
    for _round in range(3):
        pids = wait_for(lambda: len(worker_pids(n)) == 2 and worker_pids(n), 20, "2 workers")
        with ThreadPoolExecutor(6) as ex:
            futs = [ex.submit(delay_request, n, 200) for _ in range(12)]
            os.kill(pids[0], signal.SIGKILL)
            statuses = [f.result(timeout=90) for f in futs]
        assert all(s in (200, 500, 503) for s in statuses), statuses
        wait_for(lambda: pids[0] not in worker_pids(n), 10, "the dead worker reaped")
    wait_for(lambda: n.request("GET", "/v2/health/ready", timeout=5)[0] == 200, 20, "ready")
    assert delay_request(n, 10) == 200
