# The response cache (docs/cache.md): a hit is byte-identical and never reaches a worker, a
# forced hash collision still answers right, the byte budget holds, identical requests in
# flight run the model once, and the cache is off unless both the node and the model ask.
import json
import threading
import time

from conftest import MOCK_DELAY, MOCK_IDENTITY
from rawhttp import request_bytes

CACHED_IDENTITY = dict(MOCK_IDENTITY, response_cache={"enable": True})


def stats(n, model):
    status, body = n.get_json("/v2/models/%s/stats" % model)
    assert status == 200, body
    return body["model_stats"][0]


def wait_stats(n, model, pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        st = stats(n, model)
        if pred(st) or time.monotonic() > deadline:
            return st
        time.sleep(0.02)


def row(values):
    return [{"name": "INPUT0", "datatype": "FP32", "shape": [1, len(values)], "data": values}]


def infer_raw(n, model, body, headers=None):
    status, hdrs, data = n.request("POST", "/v2/models/%s/infer" % model, body=body,
                                   headers=headers)
    assert status == 200, data
    return data


def test_hit_is_byte_identical_and_never_reaches_a_worker(node, model_repo):
    n = node(repo=model_repo({"identity": CACHED_IDENTITY}), args=["--cache-bytes", "1000000"])
    body = json.dumps({"id": "a", "inputs": row([1.5, 2.5, 3.5])})
    first = infer_raw(n, "identity", body)
    st = stats(n, "identity")
    assert st["execution_count"] == 1
    assert st["inferd"]["cache"]["misses"] == 1 and st["inferd"]["cache"]["entries"] == 1
    for _ in range(3):
        assert infer_raw(n, "identity", body) == first
    # binary outputs are encoded per request from the same cached tensors
    bin_body = json.dumps({"inputs": row([1.5, 2.5, 3.5]),
                           "outputs": [{"name": "OUTPUT0",
                                        "parameters": {"binary_data": True}}]})
    data = infer_raw(n, "identity", bin_body)
    import struct
    assert data.endswith(struct.pack("<3f", 1.5, 2.5, 3.5))
    st = stats(n, "identity")
    assert st["execution_count"] == 1              # no worker saw the hits
    c = st["inferd"]["cache"]
    assert c["enabled"] is True and c["hits"] == 4 and c["misses"] == 1
    assert st["inference_stats"]["success"]["count"] == 5
    # Triton's statistics: the hits and the one miss (lookup + insertion), per model
    s = st["inference_stats"]
    assert s["cache_hit"]["count"] == 4 and s["cache_hit"]["ns"] > 0
    assert s["cache_miss"]["count"] == 1 and s["cache_miss"]["ns"] > 0
    # another input is another key
    code, out = n.infer("identity", row([9.0, 2.5, 3.5]))
    assert code == 200 and out["outputs"][0]["data"] == [9.0, 2.5, 3.5]
    assert stats(n, "identity")["execution_count"] == 2
    code, cfg = n.get_json("/v2/models/identity/config")
    assert code == 200 and cfg["response_cache"] == {"enable": True}


def test_forced_hash_collision_still_answers_right(node, model_repo, monkeypatch):
    monkeypatch.setenv("INFERD_CACHE_TEST_HASH", "constant")
    n = node(repo=model_repo({"identity": CACHED_IDENTITY}), args=["--cache-bytes", "1000000"])
    assert "INFERD_CACHE_TEST_HASH=constant" in n.log_text()
    for rnd in range(2):
        for i in range(20):
            code, out = n.infer("identity", row([float(i), float(i) + 0.5]))
            assert code == 200 and out["outputs"][0]["data"] == [float(i), float(i) + 0.5]
    c = stats(n, "identity")["inferd"]["cache"]
    assert c["misses"] == 20 and c["hits"] == 20 and c["entries"] == 20


def test_budget_holds_under_unique_inputs(node, model_repo):
    budget = 8192
    n = node(repo=model_repo({"identity": CACHED_IDENTITY}), args=["--cache-bytes", str(budget)])
    for i in range(120):
        code, out = n.infer("identity", row([float(i)] * 64))
        assert code == 200 and out["outputs"][0]["data"] == [float(i)] * 64
        c = stats(n, "identity")["inferd"]["cache"]
        assert 0 < c["bytes"] <= budget
    assert c["evictions"] > 0 and c["inserts"] == 120
    assert c["entries"] == 120 - c["evictions"]
    # the most recent input is still cached, the first one is gone
    execs = stats(n, "identity")["execution_count"]
    assert n.infer("identity", row([119.0] * 64))[0] == 200
    assert stats(n, "identity")["execution_count"] == execs
    assert n.infer("identity", row([0.0] * 64))[0] == 200
    assert stats(n, "identity")["execution_count"] == execs + 1


def test_identical_requests_in_flight_run_once(node, model_repo):
    slow = dict(MOCK_DELAY, delay_ms=4000, workers={"min": 2, "max": 2},
                response_cache={"enable": True})
    n = node(repo=model_repo({"delay": slow}), args=["--cache-bytes", "1000000"])
    results = []

    def one():
        results.append(n.infer("delay", row([4.0, 2.0])))

    leader = threading.Thread(target=one)
    leader.start()
    st = wait_stats(n, "delay", lambda s: s["inferd"]["rows_in_flight"] == 1)
    assert st["inferd"]["rows_in_flight"] == 1
    followers = [threading.Thread(target=one) for _ in range(7)]
    for t in followers:
        t.start()
    st = wait_stats(n, "delay", lambda s: s["inferd"]["cache"]["coalesced"] == 7)
    assert st["inferd"]["cache"]["coalesced"] == 7
    for t in [leader] + followers:
        t.join(timeout=60)
    assert len(results) == 8
    for code, out in results:
        assert code == 200 and out["outputs"][0]["data"] == [4.0, 2.0]
    st = stats(n, "delay")
    assert st["execution_count"] == 1 and st["inference_count"] == 1
    assert st["inferd"]["cache"]["misses"] == 1
    assert st["inference_stats"]["success"]["count"] == 8
    assert st["inference_stats"]["cache_hit"]["count"] == 7      # coalesced count as hits
    assert st["inference_stats"]["cache_miss"]["count"] == 1


def test_off_by_default_and_warns_without_budget(node, model_repo):
    repo = model_repo({"identity": CACHED_IDENTITY, "plain": MOCK_IDENTITY})
    n = node(repo=repo)  # no --cache-bytes
    assert n.wait_log("response_cache is enabled but the node has no cache budget")
    for _ in range(2):
        assert n.infer("identity", row([1.0]))[0] == 200
    st = stats(n, "identity")
    assert st["execution_count"] == 2
    assert st["inferd"]["cache"] == {"enabled": False, "hits": 0, "misses": 0, "coalesced": 0,
                                     "inserts": 0, "evictions": 0, "bytes": 0, "entries": 0,
                                     "budget_bytes": 0}
    n.stop()
    # a budget alone caches nothing for a model that does not ask
    n = node(repo=repo, args=["--cache-bytes", "1000000"])
    for _ in range(2):
        assert n.infer("plain", row([1.0]))[0] == 200
    st = stats(n, "plain")
    assert st["execution_count"] == 2 and st["inferd"]["cache"]["enabled"] is False
    assert st["inferd"]["cache"]["misses"] == 0


def test_followers_of_a_leader_whose_client_left_are_resubmitted(node, model_repo):
    # one worker busy 1.5 s per batch and a batcher that holds the queue meanwhile
    held = dict(MOCK_DELAY, delay_ms=1500, workers={"min": 1, "max": 1},
                dynamic_batching={"max_queue_delay_us": 10000000},
                response_cache={"enable": True})
    n = node(repo=model_repo({"delay": held}), args=["--cache-bytes", "1000000"])
    busy = []
    t = threading.Thread(target=lambda: busy.append(n.infer("delay", row([1.0]))))
    t.start()
    st = wait_stats(n, "delay", lambda s: s["inferd"]["batches_in_flight"] == 1)
    assert st["inferd"]["batches_in_flight"] == 1, st
    # the leader waits in the queue; three identical requests follow it
    lead = n.connect()
    lead.sendall(request_bytes("POST", "/v2/models/delay/infer",
                               json.dumps({"inputs": row([2.0])}).encode()))
    st = wait_stats(n, "delay", lambda s: s["inferd"]["queue_len"] == 1)
    assert st["inferd"]["queue_len"] == 1, st
    results = []
    followers = [threading.Thread(target=lambda: results.append(n.infer("delay", row([2.0]))))
                 for _ in range(3)]
    for f in followers:
        f.start()
    st = wait_stats(n, "delay", lambda s: s["inferd"]["cache"]["coalesced"] == 3)
    assert st["inferd"]["cache"]["coalesced"] == 3, st
    lead.close()  # cancelled (499): its followers go again, one of them leading
    st = wait_stats(n, "delay", lambda s: s["inferd"]["cancelled"] == 1)
    assert st["inferd"]["cancelled"] == 1, st
    for f in [t] + followers:
        f.join(timeout=60)
    assert busy and busy[0][0] == 200
    assert len(results) == 3
    for code, out in results:
        assert code == 200 and out["outputs"][0]["data"] == [2.0]
    st = stats(n, "delay")
    assert st["execution_count"] == 2              # the busy one, then [2.0] once
    assert st["inferd"]["cache"]["coalesced"] == 5  # 3, then 2 behind the new leader


def test_grpc_and_http_share_the_cache(node, model_repo):
    import grpcstubs
    import numpy as np
    pb, rpc = grpcstubs.load()
    n = node(repo=model_repo({"identity": CACHED_IDENTITY}), args=["--cache-bytes", "1000000"])
    code, out = n.infer("identity", row([5.0, 6.0, 7.0]))
    assert code == 200 and stats(n, "identity")["execution_count"] == 1
    x = np.array([[5.0, 6.0, 7.0]], np.float32)
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        for _ in range(2):
            resp = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x], rid="g"), timeout=10)
            assert resp.id == "g" and np.array_equal(grpcstubs.output_array(resp, 0), x)
        cfg = s.ModelConfig(pb.ModelConfigRequest(name="identity"), timeout=10).config
        assert cfg.response_cache.enable
    st = stats(n, "identity")
    assert st["execution_count"] == 1               # both gRPC answers came from the cache
    assert st["inferd"]["cache"]["hits"] == 2
