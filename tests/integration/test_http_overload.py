# Failure answers seen through HTTP: 429 (queue full) and 503 (no live worker) with
# Retry-After, 504 (deadline), 500 (worker failure), each with a JSON error.
import json
import threading

from conftest import MOCK_IDENTITY

# The batcher holds requests in the node's queue for up to 1 s to fill a batch of 64, so a
# queue bound of 2 is reached by a burst, whichever way the backend takes its batches.
DELAY_SMALL_QUEUE = {"backend": "delay", "max_batch_size": 64, "delay_ms": 100,
                     "max_queue_size": 2, "workers": {"min": 1, "max": 1},
                     "dynamic_batching": {"max_queue_delay_us": 1000000},
                     "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
                     "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}]}
ONE = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1], "data": [1]}]}


def test_queue_full_429_with_retry_after(node, model_repo):
    n = node(repo=model_repo({"delay": DELAY_SMALL_QUEUE}))
    results = []
    lock = threading.Lock()

    def one():
        r = n.request("POST", "/v2/models/delay/infer", body=ONE, timeout=30)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=one) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 64   # every request got exactly one answer
    statuses = [s for s, _, _ in results]
    assert statuses.count(200) >= 1
    rejected = [(h, b) for s, h, b in results if s == 429]
    assert rejected, statuses
    for headers, body in rejected:
        assert int(headers["retry-after"]) >= 1
        assert "queue" in json.loads(body)["error"]
    assert set(statuses) <= {200, 429}


def test_no_live_worker_503(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}), args=["--worker-path", "/bin/false"],
             ready=False)
    status, headers, body = n.request("POST", "/v2/models/identity/infer", body=ONE)
    assert status == 503
    assert int(headers["retry-after"]) >= 1
    assert json.loads(body)["error"]


def test_expired_deadline_504(node, model_repo):
    n = node(repo=model_repo({"delay": DELAY_SMALL_QUEUE}))
    body = dict(ONE, parameters={"timeout": 1})   # 1 µs: gone before it can run
    status, headers, raw = n.request("POST", "/v2/models/delay/infer", body=body)
    assert status == 504
    assert "deadline" in json.loads(raw)["error"]
    status, _, _ = n.request("POST", "/v2/models/delay/infer",
                             body=dict(ONE, parameters={"delay_ms": 10}))
    assert status == 200


def test_worker_failure_500(node, model_repo):
    # The model declares an output the identity backend never writes: the node refuses
    # the worker's answer (it checks every output) and says so with 500.
    two = {"backend": "identity", "max_batch_size": 4, "workers": {"min": 1, "max": 1},
           "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
           "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]},
                       {"name": "EXTRA", "datatype": "FP32", "dims": [-1]}]}
    n = node(repo=model_repo({"two": two}))
    status, headers, raw = n.request("POST", "/v2/models/two/infer", body=ONE)
    assert status == 500
    assert json.loads(raw)["error"]
    assert n.request("GET", "/v2/health/live")[0] == 200
