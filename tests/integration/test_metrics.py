# GET /metrics: the Prometheus exposition is valid for promtool and for our stricter reader
# (promtext.py), counts what happened (requests by outcome, histograms, workers, restarts,
# HTTP and gRPC connections), and a real Prometheus scraping the node reports the right
# request count.
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest

import grpcstubs
import promtext
from conftest import MOCK_IDENTITY, free_port, gone

ONE = [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]
SLOW = {"backend": "delay", "max_batch_size": 64, "delay_ms": 1500,
        "workers": {"min": 1, "max": 1},
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
        "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}]}


def wait_for(pred, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for " + what)
        time.sleep(0.05)


def test_metrics_valid_and_count(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY, "slow": SLOW}))
    for _ in range(7):
        assert n.infer("identity", ONE)[0] == 200
    bad = [{"name": "INPUT0", "datatype": "FP32", "shape": [65, 1], "data": [0] * 65}]
    assert n.infer("identity", bad)[0] == 400
    # queued behind a 1.5 s batch with a 100 ms deadline: 504
    t = threading.Thread(target=lambda: n.infer("slow", ONE))
    t.start()
    wait_for(lambda: n.get_json("/v2/models/slow/stats")[1]["model_stats"][0]["inferd"]
             ["batches_in_flight"] == 1, what="slow batch in flight")
    busy = promtext.parse(promtext.scrape(n))
    assert promtext.value(busy, "inferd_requests_in_flight", model="slow") == 1
    assert promtext.value(busy, "inferd_in_flight_rows", model="slow") == 1
    timed = [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]
    assert n.infer("slow", timed, extra={"parameters": {"timeout": 100000}})[0] == 504
    t.join(10)

    text = promtext.scrape(n)
    promtext.promtool_check(text)
    fam = promtext.parse(text)
    v = lambda name, **l: promtext.value(fam, name, **l)
    idl = {"model": "identity", "version": "1"}
    assert v("inferd_requests_total", outcome="success", **idl) == 7
    assert v("inferd_requests_total", outcome="bad_request", **idl) == 1
    assert v("inferd_requests_total", outcome="worker_failure", **idl) == 0
    assert v("inferd_requests_total", outcome="timeout", model="slow") == 1
    assert v("inferd_requests_total", outcome="success", model="slow") == 1
    assert v("inferd_request_duration_seconds_count", **idl) == 7
    assert v("inferd_request_duration_seconds_sum", **idl) > 0
    assert v("inferd_queue_duration_seconds_count", **idl) == 7
    execs = v("inferd_executions_total", **idl)
    assert 1 <= execs <= 7
    assert v("inferd_compute_duration_seconds_count", **idl) == execs
    assert v("inferd_batch_size_rows_count", **idl) == execs
    assert v("inferd_batch_size_rows_sum", **idl) == 7
    assert v("inferd_inferences_total", **idl) == 7
    # the slow request's 1.5 s batch lands in the (1 s, 2.5 s] bucket
    slow_more_than_1s = (v("inferd_compute_duration_seconds_bucket", le="2.5", model="slow") -
                         v("inferd_compute_duration_seconds_bucket", le="1", model="slow"))
    assert slow_more_than_1s >= 1
    assert v("inferd_compute_duration_seconds_sum", model="slow") >= 1.4
    assert v("inferd_queue_depth", **idl) == 0
    assert v("inferd_requests_in_flight", **idl) == 0
    assert v("inferd_workers", state="live", **idl) >= 1
    assert v("inferd_arena_used_bytes", **idl) + v("inferd_arena_free_bytes", **idl) > 0
    assert v("inferd_connections", protocol="http") >= 1
    assert v("inferd_connections_accepted_total", protocol="http") >= 10
    assert v("process_open_fds") > 3
    assert v("process_resident_memory_bytes") > 1 << 20
    assert v("process_cpu_seconds_total") >= 0
    # the JSON stats carry the same numbers for the dashboard
    st = n.get_json("/v2/models/identity/stats")[1]["model_stats"][0]["inferd"]
    assert st["outcomes"]["success"] == 7 and st["outcomes"]["bad_request"] == 1
    lat = st["latency_us"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
    # ... and the request histogram itself: the 7 successes, bounds as /metrics' le in us
    hist = st["latency_hist_us"]
    assert len(hist["counts"]) == len(hist["le"]) + 1 and sum(hist["counts"]) == 7
    assert hist["le"] == sorted(hist["le"]) and hist["le"][0] > 0
    assert sum(hist["counts"][:4]) == v("inferd_request_duration_seconds_bucket",
                                        le="%g" % (hist["le"][3] / 1e6), **idl)
    assert all(w["state"] == "live" and w["pid"] > 0 for w in st["workers"]["list"])


def test_metrics_method_and_labels_escaped(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}))
    status, headers, _ = n.request("POST", "/metrics", body=b"")
    assert status == 405 and "GET" in headers["allow"]
    status, _, body = n.request("HEAD", "/metrics")
    assert status == 200 and body == b""


def test_worker_restart_counted(node, model_repo):
    one = dict(MOCK_IDENTITY, workers={"min": 1, "max": 1})
    n = node(repo=model_repo({"identity": one}), args=["--restart-backoff-ms", "2000"])
    rows = lambda: n.get_json("/v2/models/identity/stats")[1]["model_stats"][0]["inferd"]
    first = wait_for(lambda: [w for w in rows()["workers"]["list"] if w["state"] == "live"],
                     what="a live worker")[0]
    os.kill(first["pid"], signal.SIGKILL)
    wait_for(lambda: rows()["workers"]["list"][0]["state"] == "restarting",
             what="the row to show restarting")
    fam = promtext.parse(promtext.scrape(n))
    assert promtext.value(fam, "inferd_workers", state="restarting", model="identity") == 1
    assert promtext.value(fam, "inferd_worker_restarts_total", model="identity") == 1
    row = wait_for(lambda: [w for w in rows()["workers"]["list"] if w["state"] == "live"],
                   timeout=20, what="the replacement to be live")[0]
    assert row["pid"] != first["pid"] and row["restarts"] == 1
    assert n.infer("identity", ONE)[0] == 200
    fam = promtext.parse(promtext.scrape(n))
    assert promtext.value(fam, "inferd_workers", state="restarting", model="identity") == 0


@pytest.fixture
def prometheus(tmp_path):
    """Starts Debian's prometheus scraping the given targets every second; stops it by PID."""
    procs = []

    def start(target):
        if not shutil.which("prometheus"):
            pytest.fail("prometheus is not installed (scripts/install-deps)")
        port = free_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                       "scrape_configs:\n  - job_name: inferd\n    static_configs:\n"
                       "      - targets: ['%s']\n" % target)
        log = open(tmp_path / "prometheus.log", "wb")
        p = subprocess.Popen(["prometheus", "--config.file=%s" % cfg,
                              "--web.listen-address=127.0.0.1:%d" % port,
                              "--storage.tsdb.path=%s" % (tmp_path / "tsdb")],
                             stdout=log, stderr=subprocess.STDOUT)
        procs.append(p)
        return "http://127.0.0.1:%d" % port

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def prom_query(base, q):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
    except OSError:
        return None  # not up yet
    assert body["status"] == "success", body
    res = body["data"]["result"]
    return float(res[0]["value"][1]) if res else None


def test_prometheus_scrapes_node(node, model_repo, prometheus):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}))
    base = prometheus("127.0.0.1:%d" % n.port)
    up = 'up{job="inferd"}'
    wait_for(lambda: prom_query(base, up) == 1, timeout=60, what="prometheus to scrape the node")
    q = 'inferd_requests_total{job="inferd",model="identity",outcome="success"}'
    assert prom_query(base, q) in (None, 0)
    for _ in range(13):
        assert n.infer("identity", ONE)[0] == 200
    wait_for(lambda: prom_query(base, q) == 13, timeout=30, what="prometheus to see 13")
    hq = 'inferd_request_duration_seconds_count{job="inferd",model="identity"}'
    assert prom_query(base, hq) == 13


def test_grpc_connections_and_requests_counted(node, model_repo):
    pb, rpc = grpcstubs.load()
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}))
    with grpcstubs.channel(n) as ch:
        stub = rpc.GRPCInferenceServiceStub(ch)
        x = np.array([[1, 2]], np.float32)
        for _ in range(3):
            stub.ModelInfer(grpcstubs.infer_request(pb, "identity", [x]), timeout=10)
        fam = promtext.parse(promtext.scrape(n))
        assert promtext.value(fam, "inferd_connections", protocol="grpc") == 1
        assert promtext.value(fam, "inferd_connections_accepted_total", protocol="grpc") == 1
        assert promtext.value(fam, "inferd_requests_total", outcome="success",
                              model="identity") == 3
    # the channel closed: the gauge goes back to 0 (bounded wait: the server sees the close)
    wait_for(lambda: promtext.value(promtext.parse(promtext.scrape(n)), "inferd_connections",
                                    protocol="grpc") == 0, what="the gRPC connection to close")


def test_cache_metrics(node, model_repo):
    cached = dict(MOCK_IDENTITY, response_cache={"enable": True})
    n = node(repo=model_repo({"identity": cached}), args=["--cache-bytes", "1048576"])
    for _ in range(3):
        assert n.infer("identity", ONE)[0] == 200
    text = promtext.scrape(n)
    promtext.promtool_check(text)
    fam = promtext.parse(text)
    v = lambda name, **l: promtext.value(fam, name, **l)
    assert v("inferd_cache_misses_total") == 1 and v("inferd_cache_hits_total") == 2
    assert v("inferd_cache_inserts_total") == 1 and v("inferd_cache_entries") == 1
    assert 0 < v("inferd_cache_bytes") <= v("inferd_cache_budget_bytes") == 1048576
    # hits are answers like any other, but no worker computed them
    assert v("inferd_requests_total", outcome="success", model="identity") == 3
    assert v("inferd_request_duration_seconds_count", model="identity") == 3
    assert v("inferd_inferences_total", model="identity") == 1
