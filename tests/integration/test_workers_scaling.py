# Worker pool sizing: the pool grows under load (up to max) and shrinks back to min when the
# extra workers stay idle longer than idle_timeout_ms.
from concurrent.futures import ThreadPoolExecutor

from conftest import MOCK_DELAY
from test_workers_faults import delay_request, wait_for, worker_pids


def test_scale_up_under_load_and_down_when_idle(node, model_repo):
    cfg = dict(MOCK_DELAY, max_batch_size=2, delay_ms=3000, idle_timeout_ms=1000,
               workers={"min": 1, "max": 3})
    n = node(repo=model_repo({"delay": cfg}))
    wait_for(lambda: len(worker_pids(n)) == 1, 10, "one worker")
    with ThreadPoolExecutor(32) as ex:
        futs = [ex.submit(delay_request, n, 3000) for _ in range(32)]
        assert n.wait_log("scale up model=delay", 20), n.log_text()[-3000:]
        wait_for(lambda: len(worker_pids(n)) >= 2, 15, "a second worker")
        statuses = [f.result(timeout=90) for f in futs]
    assert statuses == [200] * 32
    assert n.wait_log("scale down model=delay", 30), n.log_text()[-3000:]
    wait_for(lambda: len(worker_pids(n)) == 1, 30, "back to one worker")
    assert delay_request(n, 10) == 200
