# SIGTERM: stop accepting, finish what is in flight (answers delivered), exit 0; a second
# signal exits at once.
import json
import signal
import threading
import time

from conftest import MOCK_DELAY, MOCK_REVERSE
from rawhttp import Reader, request_bytes

DELAY_BODY = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1],
                                     "data": [5]}], "parameters": {"delay_ms": 800}})


def submitted(n):
    return n.log_text().count("batch submitted")


def wait_submitted(n, count, timeout=10):
    """Waits (bounded) until the scheduler logged `count` batches (needs --log-level debug)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if submitted(n) >= count:
            return
        time.sleep(0.02)
    raise AssertionError("request did not reach the scheduler")


def test_sigterm_drains_in_flight_and_exits_0(node, model_repo):
    n = node(repo=model_repo({"delay": MOCK_DELAY, "reverse": MOCK_REVERSE}),
             args=["--log-level", "debug"])
    socks = []
    for i in range(4):
        s = n.connect(timeout=15)
        s.sendall(request_bytes("POST", "/v2/models/delay/infer", DELAY_BODY))
        socks.append(s)
        wait_submitted(n, i + 1)   # in flight before the signal
    idle = n.connect()   # an idle keep-alive connection: closed by the drain
    n.proc.send_signal(signal.SIGTERM)
    for s in socks:
        resp = Reader(s, timeout=15).read_response()
        assert resp.status == 200
        assert json.loads(resp.body)["outputs"][0]["data"] == [5]
    assert Reader(idle).closed_by_peer(timeout=15)
    assert n.proc.wait(timeout=20) == 0
    log = n.log_text()
    assert "shutdown" in log


def test_second_signal_exits_at_once(node, model_repo):
    n = node(repo=model_repo({"delay": MOCK_DELAY}),
             args=["--drain-timeout-ms", "120000", "--log-level", "debug"])
    s = n.connect(timeout=15)
    s.sendall(request_bytes("POST", "/v2/models/delay/infer",
                            json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32",
                                                    "shape": [1, 1], "data": [1]}],
                                        "parameters": {"delay_ms": 120000}})))
    wait_submitted(n, 1)
    n.proc.send_signal(signal.SIGTERM)
    assert n.wait_log("shutdown", timeout=5)
    n.proc.send_signal(signal.SIGINT)
    # far sooner than the 120 s the drain would wait for the 120 s request
    n.proc.wait(timeout=30)
    assert n.proc.returncode != 0


def test_sigterm_answers_every_request_received_on_keep_alive_connections(node, model_repo):
    """100 keep-alive connections, each with a request in flight and one more pipelined
    behind it: after SIGTERM every request gets an answer (200, or 503 once the drain time is
    over), the last answer on each connection says Connection: close, and only then the node
    closes. None gets a reset or EOF without an answer."""
    n = node(repo=model_repo({"delay": MOCK_DELAY}),
             args=["--log-level", "debug", "--drain-timeout-ms", "1500"])
    body = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1],
                                   "data": [3]}], "parameters": {"delay_ms": 700}})
    socks = []
    for _ in range(100):
        s = n.connect(timeout=30)
        s.sendall(request_bytes("POST", "/v2/models/delay/infer", body) +
                  request_bytes("POST", "/v2/models/delay/infer", body))
        socks.append(s)
    # every request received before the signal: 200 taken by the scheduler (queued, in a
    # batch or done); bounded wait
    deadline = time.monotonic() + 30
    while True:
        _, st = n.get_json("/v2/models/delay/stats")
        m = st["model_stats"][0]
        inside = (m["inference_stats"]["success"]["count"] + m["inferd"]["queue_rows"] +
                  m["inferd"]["rows_in_flight"])
        if inside >= 200:
            break
        assert time.monotonic() < deadline, "requests did not reach the scheduler: %r" % m
        time.sleep(0.02)
    n.proc.send_signal(signal.SIGTERM)
    statuses = {}
    for i, s in enumerate(socks):
        r = Reader(s, timeout=30)
        answers = [r.read_response(), r.read_response()]
        for a in answers:
            assert a.status in (200, 503), (i, a)
            statuses[a.status] = statuses.get(a.status, 0) + 1
            if a.status == 503:
                assert json.loads(a.body)["error"]
        assert answers[-1].headers.get("connection") == "close", (i, answers[-1].headers)
        assert r.closed_by_peer(timeout=15), i
        s.close()
    assert sum(statuses.values()) == 200
    assert n.proc.wait(timeout=30) == 0
