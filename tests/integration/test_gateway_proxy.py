# inferd-gateway in front of real nodes (and fake ones) on loopback: every route kind is
# forwarded byte for byte, a killed node's requests go to the others, a node's 503 is
# retried elsewhere, an exhausted deadline is 504 without a node seeing the request, the
# deadline is forwarded as the time left, a routing key sticks to one node, /gateway/nodes
# shows the table, and bad flags are refused with a clear message.
import json
import signal
import socket
import struct
import subprocess
import time

import numpy as np
import pytest

import promtext
from conftest import bin_path
from gwharness import FakeNode, Gateway


@pytest.fixture
def gateway(tmp_path):
    started = []

    def start(nodes, args=(), ready=True):
        g = Gateway(nodes, str(tmp_path / ("gateway-%d.log" % len(started))), args)
        started.append(g)
        return g.start(ready=ready)

    yield start
    for g in started:
        g.stop()
    for g in started:
        text = g.log_text()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert marker not in text, text[text.find(marker):][:4000]


@pytest.fixture
def fakes():
    made = []

    def make(**kw):
        f = FakeNode(**kw).start()
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


def addr(n):
    return "127.0.0.1:%d" % n.port


def process(gw, msg, headers=None):
    return gw.request("POST", "/process", body=json.dumps({"message": msg}),
                      headers=dict({"Content-Type": "application/json"}, **(headers or {})))


def expected_process(msg):
    return ('{"result": "WORKER_PROCESSED: %s"}' % msg[::-1].upper()).encode()


def binary_infer_body(values):
    data = np.asarray(values, dtype=np.float32).tobytes()
    header = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, len(values)],
                          "parameters": {"binary_data_size": len(data)}}],
              "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}]}
    head = json.dumps(header).encode()
    return head + data, {"Inference-Header-Content-Length": str(len(head)),
                         "Content-Type": "application/octet-stream"}


def test_every_route_kind_forwarded_byte_for_byte(node, gateway):
    n = node()
    gw = gateway([addr(n)])
    # the node's own answers for the same requests, compared byte for byte
    cases = [("GET", "/v2", None, {}),
             ("GET", "/v2/models/identity", None, {}),
             ("GET", "/v2/models/identity/ready", None, {}),
             ("GET", "/v2/models/identity/config", None, {}),
             ("GET", "/v2/models/nosuchmodel", None, {}),
             ("POST", "/v2/repository/index", b"{}", {"Content-Type": "application/json"}),
             ("POST", "/process", b'{"message": "hello world"}',
              {"Content-Type": "application/json"}),
             ("POST", "/v2/models/identity/infer",
              json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 3],
                                      "data": [1.5, -2.0, 3.25]}]}).encode(),
              {"Content-Type": "application/json"}),
             ("POST", "/v2/models/identity/infer", b"{not json", {}),
             ("GET", "/no/such/route?x=1", None, {})]
    body, hdrs = binary_infer_body([0.5, -1.0, 2.0, 1e30])
    cases.append(("POST", "/v2/models/identity/infer", body, hdrs))
    for method, path, body, hdrs in cases:
        want = n.request(method, path, body=body, headers=hdrs)
        got = gw.request(method, path, body=body, headers=hdrs)
        assert got[0] == want[0], (path, got, want)
        assert got[2] == want[2], (path, got[2][:300], want[2][:300])
        for h in ("content-type", "inference-header-content-length", "allow", "retry-after"):
            assert got[1].get(h) == want[1].get(h), (path, h, got[1], want[1])
    # the binary answer really is binary: the tensor's bytes after the JSON header
    got = gw.request("POST", "/v2/models/identity/infer", body=body, headers=hdrs)
    n_head = int(got[1]["inference-header-content-length"])
    assert got[2][n_head:] == np.asarray([0.5, -1.0, 2.0, 1e30], dtype=np.float32).tobytes()
    # the gateway answers its own health
    assert gw.request("GET", "/v2/health/live")[0] == 200
    assert gw.request("GET", "/v2/health/ready")[0] == 200


def test_killed_node_requests_keep_succeeding(node, gateway):
    nodes = [node() for _ in range(3)]
    gw = gateway([addr(n) for n in nodes])
    for i in range(30):
        status, _, body = process(gw, "warm %d" % i)
        assert (status, body) == (200, expected_process("warm %d" % i))
    nodes[1].stop(sig=signal.SIGKILL)
    for i in range(200):
        msg = "after kill %d" % i
        status, _, body = process(gw, msg)
        assert (status, body) == (200, expected_process(msg)), (i, status, body)
    # the dead node is out of the rotation: its active checks fail
    gone = "127.0.0.1:%d" % nodes[1].port
    gw.wait_nodes(lambda ns: any(x["address"] == gone and not x["ready"] for x in ns))


def test_node_answering_503_is_retried_on_another(node, gateway, fakes):
    real = node()
    busy = fakes(status=503, body=b'{"error": "busy"}')
    gw = gateway([addr(real), busy.address], args=["--hedge-percent", "0"])
    for i in range(40):
        msg = "retry %d" % i
        status, _, body = process(gw, msg)
        assert (status, body) == (200, expected_process(msg)), (i, status, body)
    # about half the keys land on the busy node first: the retries really happened
    assert len(busy.routed()) > 0


def test_all_nodes_503_passes_the_node_answer_on(gateway, fakes):
    a = fakes(status=503, body=b'{"error": "busy a"}')
    b = fakes(status=503, body=b'{"error": "busy b"}')
    gw = gateway([a.address, b.address])
    status, _, body = process(gw, "x")
    assert status == 503
    assert body in (b'{"error": "busy a"}', b'{"error": "busy b"}')
    assert len(a.routed()) + len(b.routed()) == 2  # tried each once, no more


def test_exhausted_deadline_is_504_without_contacting_a_node(gateway, fakes):
    f = fakes()
    gw = gateway([f.address])
    # the deadline counts from the request's first byte: send the head, wait past the
    # deadline, then the body
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    body = b'{"message": "late"}'
    s.sendall(b"POST /process HTTP/1.1\r\nHost: x\r\nInferd-Timeout-Ms: 50\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    time.sleep(0.3)  # the point of the test: the client itself is slow
    s.sendall(body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 504"), data
    assert f.routed() == []


def test_deadline_forwarded_as_time_left(gateway, fakes):
    f = fakes()
    gw = gateway([f.address])
    status, _, _ = process(gw, "t", headers={"Inferd-Timeout-Ms": "5000"})
    assert status == 200
    (_, _, hdrs, _), = f.routed()
    left = int(hdrs["inferd-timeout-ms"])
    assert 1000 < left <= 5000
    # no client timeout: none forwarded
    process(gw, "u")
    assert "inferd-timeout-ms" not in f.routed()[-1][2]


def test_routing_key_sticks_to_one_node_and_bodies_pass_through(gateway, fakes):
    a, b, c = fakes(), fakes(), fakes()
    gw = gateway([a.address, b.address, c.address])
    blob = bytes(range(256)) * 64  # not JSON: the gateway never parses bodies
    for i in range(20):
        status, _, _ = gw.request("POST", "/v2/models/reverse/infer", body=blob,
                                  headers={"Inferd-Routing-Key": "session-42",
                                           "Content-Type": "application/octet-stream",
                                           "X-Custom": "kept"})
        assert status == 200
    counts = [len(x.routed()) for x in (a, b, c)]
    assert sorted(counts) == [0, 0, 20], counts
    keyed = [x for x in (a, b, c) if x.routed()][0]
    assert all(r[3] == blob for r in keyed.routed())
    assert all(r[2].get("x-custom") == "kept" for r in keyed.routed())
    # without a key, the model + body hash spreads different bodies over the nodes
    for i in range(60):
        gw.request("POST", "/v2/models/reverse/infer", body=b"body %d" % i)
    assert all(len(x.routed()) > (20 if x is keyed else 0) for x in (a, b, c))


def test_only_nodes_serving_the_model_are_candidates(gateway, fakes):
    a = fakes(models=("identity",))
    b = fakes(models=("reverse",))
    gw = gateway([a.address, b.address])
    gw.wait_nodes(lambda ns: all(x["models"] is not None for x in ns))
    for i in range(20):
        assert process(gw, "m%d" % i)[0] == 200
    assert len(b.routed()) == 20 and a.routed() == []


def test_gateway_nodes_shows_the_table(node, gateway):
    n1, n2 = node(), node()
    gw = gateway([addr(n1), addr(n2) + ",weight=3"])
    for i in range(25):
        assert process(gw, "n%d" % i)[0] == 200
    nodes = gw.wait_nodes(lambda ns: all(x["ready"] for x in ns))
    by = {x["address"]: x for x in nodes}
    assert set(by) == {addr(n1), addr(n2)}
    assert by[addr(n2)]["weight"] == 3 and by[addr(n1)]["weight"] == 1
    assert sum(x["requests"] for x in nodes) == 25
    for x in nodes:
        assert x["breaker"] == "closed" and x["present"] is True
        assert x["in_flight"] == 0 and x["failures"] == 0 and x["ejections"] == 0
        assert "reverse" in x["models"] and "identity" in x["models"]
        assert set(x["latency_ms"]) == {"p50", "p99"}
    assert gw.request("POST", "/gateway/nodes")[0] == 405


def test_metadata_calls_are_not_latency_samples(node, gateway):
    n = node()
    gw = gateway([addr(n)])
    for _ in range(30):
        assert gw.request("GET", "/v2/models/identity")[0] == 200
    nd = gw.wait_nodes(lambda ns: ns[0]["requests"] >= 30)[0]
    assert nd["latency_ms"] == {"p50": 0, "p99": 0}, nd    # no inference call: no sample
    for i in range(30):                                     # a quantile needs 20 samples
        assert process(gw, "m%d" % i)[0] == 200
    assert gw.nodes_json()[0]["latency_ms"]["p50"] > 0


def test_ready_follows_the_nodes(gateway, fakes):
    f = fakes(ready=False)
    gw = gateway([f.address], ready=False)
    gw.wait_status("/v2/health/ready", 503)
    assert b"no node is ready" in gw.request("GET", "/v2/health/ready")[2]
    assert gw.request("GET", "/v2/health/live")[:3:2] == (200, b'{"live": true}')
    f.ready = True
    gw.wait_status("/v2/health/ready", 200)


@pytest.mark.parametrize("args,message", [
    (["--node", "127.0.0.1:1"], "--http-port is required"),
    (["--http-port", "0"], "no nodes"),
    (["--http-port", "0", "--node", "127.0.0.1"], "expected HOST:PORT"),
    (["--http-port", "0", "--node", "127.0.0.1:0"], "port 1..65535"),
    (["--http-port", "0", "--node", "127.0.0.1:80,weight=0"], "weight=1..1000"),
    (["--http-port", "0", "--node", "127.0.0.1:80", "--node", "127.0.0.1:80"], "given twice"),
    (["--http-port", "0", "--node", "127.0.0.1:80", "--hash-balance-factor", "0.5"],
     "--hash-balance-factor"),
    (["--http-port", "0", "--node", "127.0.0.1:80", "--threads", "0"], "--threads"),
    (["--http-port", "0", "--node", "127.0.0.1:80", "--log-format", "xml"], "--log-format"),
    (["--http-port", "0", "--node", "127.0.0.1:80", "--bogus"], "unknown"),
    (["--http-port", "0", "--node-dns", "nameonly"], "NAME:PORT"),
    (["--http-port", "0", "--node", "127.0.0.1:80", "--dns-srv"], "need --node-dns"),
    (["--http-port", "0", "--config", "/nonexistent.json"], "--config"),
])
def test_bad_flags_are_refused(args, message):
    r = subprocess.run([bin_path("inferd-gateway")] + args, capture_output=True, timeout=10)
    assert r.returncode == 2, r
    assert message in r.stderr.decode(), r.stderr


def test_help_and_config_file(tmp_path, node, gateway):
    r = subprocess.run([bin_path("inferd-gateway"), "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0 and b"--node HOST:PORT" in r.stdout
    n = node()
    cfg = tmp_path / "gw.json"
    cfg.write_text(json.dumps({"nodes": [{"address": addr(n), "weight": 2}]}))
    gw = gateway([], args=["--config", str(cfg)])
    assert process(gw, "cfg")[0] == 200
    assert gw.nodes_json()[0]["weight"] == 2


def test_sigterm_drains_in_flight_requests(model_repo, node, gateway):
    repo = model_repo({"delay": {"backend": "delay", "max_batch_size": 8, "delay_ms": 500,
                                 "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
                                 "outputs": [{"name": "OUTPUT0", "datatype": "FP32",
                                              "dims": [-1]}]}})
    n = node(repo=repo)
    gw = gateway([addr(n)])
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    body = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1],
                                   "data": [1.0]}]}).encode()
    s.sendall(b"POST /v2/models/delay/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
              % len(body) + body)
    gw.wait_nodes(lambda ns: ns[0]["in_flight"] == 1)  # at the node (which takes 500 ms)
    gw.proc.send_signal(signal.SIGTERM)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 200"), data
    assert gw.proc.wait(timeout=15) == 0


def test_hedge_goes_to_another_node_when_one_stalls(gateway, fakes):
    """Once a node's p95 for the model is known, a request that waits longer gets a second
    copy on another node; the first answer wins and the stalled copy is closed."""
    import threading
    stalled = {}
    release = threading.Event()

    def handler(name):
        def answer(method, path, hdrs, body):
            if stalled.get(name):
                release.wait(timeout=20)
            return 200, b'{"from": "%s"}' % name.encode()
        return answer

    a = fakes(handler=handler("a"))
    b = fakes(handler=handler("b"))
    gw = gateway([a.address, b.address], args=["--hedge-percent", "100"])
    # both nodes checked ready and their indexes known first: until then the candidate set, and
    # so the key's place on the ring, can change under the requests below
    gw.wait_nodes(lambda ns: len(ns) == 2 and all(x["ready"] and x["models"] is not None
                                                  for x in ns))
    key = {"Inferd-Routing-Key": "sticky"}
    # the key's node answers quickly 40 times: its p95 is known (the estimate needs 20)
    for _ in range(40):
        assert gw.request("POST", "/process", body=b"{}", headers=key)[0] == 200
    # every first copy goes to the key's node; on a loaded machine a priming request slower
    # than the p95 may have been hedged, so the other node may hold hedge copies (and only those)
    sticky, other = ("a", "b") if len(a.routed()) >= len(b.routed()) else ("b", "a")
    node_of = {"a": a, "b": b}
    addr_of = {"a": a.address, "b": b.address}
    assert len(node_of[sticky].routed()) == 40
    primed_hedges = promtext.value(promtext.parse(promtext.scrape(gw)),
                                   "inferd_gateway_node_hedges_total", node=addr_of[other])
    assert len(node_of[other].routed()) <= primed_hedges

    def counters():
        fam = promtext.parse(promtext.scrape(gw))
        v = lambda name, who: promtext.value(fam, name, node=addr_of[who])
        return {"hedges_other": v("inferd_gateway_node_hedges_total", other),
                "won_other": v("inferd_gateway_node_hedges_won_total", other),
                "hedges_sticky": v("inferd_gateway_node_hedges_total", sticky),
                "sent_sticky": v("inferd_gateway_node_requests_total", sticky),
                "ok": promtext.value(fam, "inferd_gateway_requests_total", outcome="2xx")}

    # a priming request slower than the p95 may itself have been hedged (a loaded machine):
    # the stalled request's own counts are the difference from here
    before = counters()
    stalled[sticky] = True
    try:
        status, _, body = gw.request("POST", "/process", body=b"{}", headers=key, timeout=15)
        assert (status, body) == (200, b'{"from": "%s"}' % other.encode())  # the hedge won
        # and /metrics says so (docs/metrics.md, gateway section)
        after = counters()
        d = {k: after[k] - before[k] for k in after}
        assert d["hedges_other"] == 1
        assert d["won_other"] == 1
        assert d["hedges_sticky"] == 0
        assert d["sent_sticky"] == 1
        assert before["sent_sticky"] == 40 and after["ok"] == 41
    finally:
        release.set()


def test_request_on_a_node_that_hangs_is_rescued(gateway, fakes):
    """A node that stops answering (hung, like SIGSTOP) fails its next active check; a request
    already waiting on it is sent to another node then, without hedge tokens."""
    a = fakes(body=b'{"from": "a"}')
    b = fakes(body=b'{"from": "b"}')
    gw = gateway([a.address, b.address], args=["--hedge-percent", "0",
                                                "--health-interval-ms", "200",
                                                "--health-timeout-ms", "300"])
    key = {"Inferd-Routing-Key": "sticky"}
    first = gw.request("POST", "/process", body=b"{}", headers=key)[2]
    stuck, other = (a, b"b") if first == b'{"from": "a"}' else (b, b"a")
    stuck.hang()
    try:
        status, _, body = gw.request("POST", "/process", body=b"{}", headers=key, timeout=25)
        assert (status, body) == (200, b'{"from": "%s"}' % other)
    finally:
        stuck.release()
