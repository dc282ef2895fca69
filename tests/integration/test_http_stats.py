# Per-model statistics (GET /v2/models/{m}/stats, GET /v2/models/stats) and cancellation of
# queued requests whose client went away.
import json
import threading
import time

from conftest import MOCK_IDENTITY
from rawhttp import request_bytes

ONE = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}

# One worker that holds each batch for 1.5 s, and a batcher that waits up to 10 s to fill a
# batch while no worker is idle: requests behind the first one stay in the node's queue.
DELAY_HOLDS_QUEUE = {"backend": "delay", "max_batch_size": 64, "delay_ms": 1500,
                     "workers": {"min": 1, "max": 1},
                     "dynamic_batching": {"max_queue_delay_us": 10000000},
                     "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
                     "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}]}


def model_stats(n, model):
    status, body = n.get_json("/v2/models/%s/stats" % model)
    assert status == 200, body
    assert len(body["model_stats"]) == 1
    return body["model_stats"][0]


def wait_stats(n, model, pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        st = model_stats(n, model)
        if pred(st) or time.monotonic() > deadline:
            return st
        time.sleep(0.02)


def test_stats_count_what_happened(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY, "other": MOCK_IDENTITY}))
    st = model_stats(n, "identity")
    assert st["name"] == "identity" and st["version"] == "1"
    assert st["inference_count"] == 0 and st["execution_count"] == 0
    assert st["last_inference"] == 0
    before_ms = int(time.time() * 1000)
    for _ in range(5):
        assert n.infer("identity", ONE["inputs"])[0] == 200
    two_rows = [{"name": "INPUT0", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3, 4]}]
    assert n.infer("identity", two_rows)[0] == 200
    # refused before it reaches a worker: more rows than max_batch_size
    big = [{"name": "INPUT0", "datatype": "FP32", "shape": [65, 1], "data": [0] * 65}]
    assert n.infer("identity", big)[0] == 400
    st = model_stats(n, "identity")
    s = st["inference_stats"]
    assert s["success"]["count"] == 6 and s["success"]["ns"] > 0
    assert s["fail"]["count"] == 0
    assert s["queue"]["count"] == 6
    assert st["inference_count"] == 7           # rows: 5 x 1 + 2
    assert 1 <= st["execution_count"] <= 6
    assert s["compute_infer"]["count"] == st["execution_count"]
    # every field of Triton's statistics extension is there; no cache on this model
    assert s["compute_input"]["count"] == s["compute_output"]["count"] == st["execution_count"]
    assert s["cache_hit"] == {"count": 0, "ns": 0} and s["cache_miss"] == {"count": 0, "ns": 0}
    assert before_ms <= st["last_inference"] <= int(time.time() * 1000) + 1
    x = st["inferd"]
    assert x["rejected"] == 1 and x["cancelled"] == 0
    assert x["queue_len"] == 0 and x["batches_in_flight"] == 0
    assert x["workers"]["live"] >= 1 and x["workers"]["min"] == 1 and x["workers"]["max"] == 2
    # the other model saw nothing; the list form has both
    assert model_stats(n, "other")["inference_count"] == 0
    status, body = n.get_json("/v2/models/stats")
    assert status == 200
    assert sorted(m["name"] for m in body["model_stats"]) == ["identity", "other"]
    # errors
    assert n.request("GET", "/v2/models/nope/stats")[0] == 404
    status, headers, _ = n.request("POST", "/v2/models/identity/stats", body="{}")
    assert status == 405 and "GET" in headers["allow"]
    assert n.request("GET", "/v2/models/identity/versions/1/stats")[0] == 200


def test_queued_requests_of_a_vanished_client_are_cancelled(node, model_repo):
    n = node(repo=model_repo({"delay": DELAY_HOLDS_QUEUE}))
    first = []
    t = threading.Thread(target=lambda: first.append(n.infer("delay", ONE["inputs"])))
    t.start()
    st = wait_stats(n, "delay", lambda s: s["inferd"]["batches_in_flight"] == 1)
    assert st["inferd"]["batches_in_flight"] == 1, st
    # three more wait in the queue behind it; their clients leave
    socks = []
    for _ in range(3):
        s = n.connect()
        s.sendall(request_bytes("POST", "/v2/models/delay/infer", json.dumps(ONE).encode()))
        socks.append(s)
    st = wait_stats(n, "delay", lambda s: s["inferd"]["queue_len"] == 3)
    assert st["inferd"]["queue_len"] == 3, st
    for s in socks:
        s.close()
    st = wait_stats(n, "delay", lambda s: s["inferd"]["cancelled"] == 3)
    assert st["inferd"]["cancelled"] == 3, st
    assert st["inferd"]["queue_len"] == 0
    t.join(30)
    assert first and first[0][0] == 200     # the request in the worker was not disturbed
    st = model_stats(n, "delay")
    assert st["inference_stats"]["success"]["count"] == 1
    assert st["execution_count"] == 1       # nothing ran for the clients that left
    # and the model keeps serving
    status, body = n.infer("delay", ONE["inputs"], extra={"parameters": {"delay_ms": 1}})
    assert status == 200, body
