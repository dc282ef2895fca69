# Triton's repository extension and --model-control-mode: the index (states and reasons),
# explicit loads and unloads (with a config override), clear errors for unknown and broken
# models while the node keeps serving, poll mode picking up added, changed and removed
# models, an unload that drains its in-flight requests, and reloads under load that fail no
# request.
import http.client
import json
import os
import shutil
import threading
import time

from conftest import MOCK_DELAY, MOCK_IDENTITY, MOCK_REVERSE

ONE = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}
BROKEN = '{"backend": "identity", "max_batch_size": "lots"}'


def wait_until(fn, timeout=20.0, step=0.05):
    """Polls fn() until it returns something true (returned) or timeout (returns None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(step)
    return None


def index(n, ready=None):
    status, body = n.post_json("/v2/repository/index", {} if ready is None else {"ready": ready})
    assert status == 200
    return {e["name"]: e for e in body}


def load(n, name, config=None):
    body = {"parameters": {"config": json.dumps(config)}} if config is not None else None
    status, _, data = n.request("POST", "/v2/repository/models/%s/load" % name,
                                body=body if body is not None else b"", timeout=90)
    return status, json.loads(data) if data else None


def unload(n, name):
    status, _, data = n.request("POST", "/v2/repository/models/%s/unload" % name, body=b"",
                                timeout=90)
    return status, json.loads(data) if data else None


def test_index_states_and_reasons(node, model_repo):
    repo = model_repo({"identity": MOCK_IDENTITY, "reverse": MOCK_REVERSE, "broken": BROKEN})
    n = node(repo=repo)
    idx = index(n)
    assert set(idx) == {"identity", "reverse", "broken"}
    assert idx["identity"]["state"] == "READY" and idx["identity"]["reason"] == ""
    assert idx["identity"]["version"] == "1"
    assert idx["broken"]["state"] == "UNAVAILABLE"
    assert "max_batch_size" in idx["broken"]["reason"]
    assert set(index(n, ready=True)) == {"identity", "reverse"}
    assert set(index(n, ready=False)) == {"identity", "reverse", "broken"}
    status, body = n.post_json("/v2/repository/index", {"ready": "yes"})
    assert status == 400
    # none mode: the API does not load or unload
    status, body = load(n, "identity")
    assert status == 400 and "explicit" in body["error"]
    status, body = unload(n, "identity")
    assert status == 400 and "explicit" in body["error"]
    assert n.post_json("/v2/models/identity/infer", ONE)[0] == 200


def test_explicit_loads_only_what_is_asked(node, model_repo):
    repo = model_repo({"identity": MOCK_IDENTITY, "reverse": MOCK_REVERSE})
    n = node(repo=repo, args=["--model-control-mode", "explicit", "--load-model", "identity"])
    idx = index(n)
    assert idx["identity"]["state"] == "READY"
    assert idx["reverse"]["state"] == "UNAVAILABLE"
    status, body = n.get_json("/v2/models/reverse")
    assert status == 404 and "not loaded" in body["error"]
    assert n.post_json("/v2/models/identity/infer", ONE)[0] == 200
    assert len(n.worker_pids()) == MOCK_IDENTITY["workers"]["min"]


def test_explicit_without_models_then_load_and_unload(node, model_repo):
    repo = model_repo({"identity": MOCK_IDENTITY, "reverse": MOCK_REVERSE})
    n = node(repo=repo, args=["--model-control-mode", "explicit"])
    assert index(n, ready=True) == {}
    status, _ = load(n, "reverse")
    assert status == 200
    assert index(n)["reverse"]["state"] == "READY"
    status, body = n.post_json("/process", {"message": "abc"})
    assert status == 200 and "CBA" in body["result"]
    status, _ = unload(n, "reverse")
    assert status == 200
    entry = index(n)["reverse"]
    assert entry["state"] == "UNAVAILABLE" and entry["reason"] == "unloaded"
    assert n.get_json("/v2/models/reverse/ready")[0] == 404
    # its workers are gone: nothing is left running for it
    assert wait_until(lambda: n.worker_pids() == [], timeout=15) is not None
    assert unload(n, "reverse")[0] == 200  # unloading what is not loaded is fine
    assert load(n, "reverse")[0] == 200   # and it loads again
    assert n.post_json("/process", {"message": "xy"})[0] == 200


def test_unknown_and_broken_models_give_clear_errors(node, model_repo, tmp_path):
    repo = model_repo({"identity": MOCK_IDENTITY, "broken": BROKEN,
                       "badfile": {"backend": "onnx", "max_batch_size": 4,
                                   "inputs": [{"name": "x", "datatype": "FP32", "dims": [4]}],
                                   "outputs": [{"name": "y", "datatype": "FP32", "dims": [4]}],
                                   "workers": {"min": 1, "max": 1}}})
    os.makedirs(os.path.join(repo, "badfile", "1"))
    with open(os.path.join(repo, "badfile", "1", "model.onnx"), "wb") as f:
        f.write(b"this is not an onnx model")
    n = node(repo=repo, args=["--model-control-mode", "explicit", "--load-model", "identity"])
    status, body = load(n, "nope")
    assert status == 404 and "no model 'nope'" in body["error"]
    status, body = load(n, ".hidden")
    assert status == 400 and "not a model name" in body["error"]
    status, body = unload(n, "nope")
    assert status == 404 and "no model 'nope'" in body["error"]
    status, body = load(n, "broken")
    assert status == 400 and "max_batch_size" in body["error"]
    status, body = load(n, "badfile")
    assert status == 500 and "worker exited while starting" in body["error"]
    idx = index(n)
    assert idx["broken"]["state"] == "UNAVAILABLE" and "max_batch_size" in idx["broken"]["reason"]
    assert idx["badfile"]["state"] == "UNAVAILABLE" and "worker" in idx["badfile"]["reason"]
    # the node kept serving through all of it
    assert n.post_json("/v2/models/identity/infer", ONE)[0] == 200
    assert n.get_json("/v2/health/ready")[0] == 200
    status, _, _ = n.request("POST", "/v2/repository/models/identity/load", body=b"{nope")
    assert status == 400


def test_config_override(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}),
             args=["--model-control-mode", "explicit", "--load-model", "identity"])
    assert n.get_json("/v2/models/identity/config")[1]["max_batch_size"] == 64
    override = dict(MOCK_IDENTITY, max_batch_size=8)
    status, _ = load(n, "identity", override)
    assert status == 200
    assert n.get_json("/v2/models/identity/config")[1]["max_batch_size"] == 8
    assert n.post_json("/v2/models/identity/infer", ONE)[0] == 200
    status, body = load(n, "identity", {"backend": "identity", "inputs": "no"})
    assert status == 400 and "config override" in body["error"]
    # a failed override leaves the loaded version serving
    assert n.get_json("/v2/models/identity/config")[1]["max_batch_size"] == 8
    assert index(n)["identity"]["state"] == "READY"
    status, _, _ = n.request("POST", "/v2/repository/models/identity/load",
                             body={"parameters": {"config": 5}})
    assert status == 400
    # Triton's own shape, as Triton's clients send it: the config route's answer, edited
    _, triton = n.get_json("/v2/models/identity/config")
    triton["max_batch_size"] = 16
    triton["instance_group"][0]["count"] = 1
    status, body = load(n, "identity", triton)
    assert status == 200, body
    _, now = n.get_json("/v2/models/identity/config")
    assert now["max_batch_size"] == 16 and now["instance_group"][0]["count"] == 1
    assert now["input"] == triton["input"]
    triton["input"][0]["data_type"] = "TYPE_NOPE"
    status, body = load(n, "identity", triton)
    assert status == 400 and "input[0]" in body["error"]


def test_unload_drains_in_flight_requests(node, model_repo):
    delay = dict(MOCK_DELAY, delay_ms=1500, max_batch_size=1, workers={"min": 2, "max": 2})
    n = node(repo=model_repo({"delay": delay, "identity": MOCK_IDENTITY}),
             args=["--model-control-mode", "explicit", "--load-model", "delay",
                   "--load-model", "identity"])
    results = []

    def one():
        results.append(n.post_json("/v2/models/delay/infer", ONE, timeout=60)[0])

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()

    def in_flight():
        _, body = n.get_json("/v2/models/delay/stats")
        st = body["model_stats"][0]["inferd"]
        return st["batches_in_flight"] + st["queue_len"] == 4  # one request per batch

    assert wait_until(in_flight, timeout=10)
    status, _ = unload(n, "delay")
    assert status == 200
    # the unload answered only after every in-flight request was answered, all with 200
    assert len(results) == 4 and results == [200] * 4
    for t in threads:
        t.join(timeout=10)
    assert n.get_json("/v2/models/delay")[0] == 404
    assert n.post_json("/v2/models/identity/infer", ONE)[0] == 200


def test_poll_picks_up_added_changed_and_removed_models(node, model_repo):
    repo = model_repo({"identity": MOCK_IDENTITY})
    n = node(repo=repo, args=["--model-control-mode", "poll", "--repository-poll-secs", "1"])
    assert set(index(n)) == {"identity"}
    # added
    os.makedirs(os.path.join(repo, "reverse"))
    with open(os.path.join(repo, "reverse", "config.json"), "w") as f:
        json.dump(MOCK_REVERSE, f)
    assert wait_until(lambda: n.get_json("/v2/models/reverse/ready")[0] == 200)
    assert n.post_json("/process", {"message": "ab"})[0] == 200
    # changed
    with open(os.path.join(repo, "identity", "config.json"), "w") as f:
        json.dump(dict(MOCK_IDENTITY, max_batch_size=4), f)
    assert wait_until(
        lambda: n.get_json("/v2/models/identity/config")[1]["max_batch_size"] == 4)
    assert n.post_json("/v2/models/identity/infer", ONE)[0] == 200
    # a broken edit keeps the loaded version serving and says why
    with open(os.path.join(repo, "identity", "config.json"), "w") as f:
        f.write(BROKEN)
    assert wait_until(lambda: "still serves" in index(n)["identity"]["reason"])
    assert index(n)["identity"]["state"] == "READY"
    assert n.post_json("/v2/models/identity/infer", ONE)[0] == 200
    # removed
    shutil.rmtree(os.path.join(repo, "reverse"))
    assert wait_until(lambda: n.get_json("/v2/models/reverse/ready")[0] == 404)
    assert wait_until(lambda: index(n)["reverse"]["state"] == "UNAVAILABLE")
    assert "removed" in index(n)["reverse"]["reason"]
    status, body = load(n, "identity")
    assert status == 400 and "poll" in body["error"]


def test_reload_under_load_fails_no_request(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}),
             args=["--model-control-mode", "explicit", "--load-model", "identity"])
    # each client sends at least `least` requests (3,000 in all), then stops once the reloads
    # are done, and never sends more than `most` (bounded)
    n_threads, least, most = 4, 750, 2500
    failures, counts = [], [0] * n_threads
    stop = threading.Event()
    body = json.dumps(ONE)

    def client(k):
        conn = http.client.HTTPConnection(n.host, n.port, timeout=30)
        while counts[k] < least or (not stop.is_set() and counts[k] < most):
            try:
                conn.request("POST", "/v2/models/identity/infer", body=body,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    failures.append((resp.status, data[:200]))
            except (OSError, http.client.HTTPException) as e:
                failures.append(("exception", repr(e)))
                conn.close()
                conn = http.client.HTTPConnection(n.host, n.port, timeout=30)
            counts[k] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    assert wait_until(lambda: sum(counts) >= 200)  # the load is on
    before = sum(counts)
    for k in range(3):
        status, body_ = load(n, "identity", dict(MOCK_IDENTITY, max_batch_size=32 + 32 * (k % 2)))
        assert status == 200, body_
    during = sum(counts) - before
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    assert during > 0  # requests were answered while the model was reloaded
    assert sum(counts) >= n_threads * least
    assert n.log_text().count("model identity reloaded") == 3
