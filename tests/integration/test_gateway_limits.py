# inferd-gateway's HTTP edges: a HEAD answer (proxied or the gateway's own) carries the
# Content-Length a GET would have and no body (checked on a raw socket: the next answer on
# the connection starts right after the head), and the cap on active upstream connections
# per node (--max-upstream-conns) queues requests beyond it or answers 503, and large request
# bodies stream through (above --body-buffer-bytes) with the gateway's memory bounded.
import hashlib
import json
import os
import socket
import subprocess
import threading
import time

import pytest

import promtext
from conftest import bin_path
from test_gateway_proxy import addr, fakes, gateway  # noqa: F401 (fixtures)
from test_metrics import wait_for


def known(gw):
    """Waits until every node is checked ready and its models are known (until then a keyed
    request may find no node)."""
    gw.wait_nodes(lambda ns: all(x["ready"] and x["models"] is not None for x in ns))
    return gw


class RawConn:
    """One keep-alive connection, read exactly as the bytes come (no client library that
    would hide a HEAD body)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, method, path):
        self.sock.sendall(("%s %s HTTP/1.1\r\nHost: t\r\n\r\n" % (method, path)).encode())

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            more = self.sock.recv(65536)
            assert more, "connection closed before a whole head: %r" % self.buf
            self.buf += more
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return int(lines[0].split()[1]), headers

    def read_body(self, n):
        while len(self.buf) < n:
            more = self.sock.recv(65536)
            assert more, "connection closed inside a body"
            self.buf += more
        body, self.buf = self.buf[:n], self.buf[n:]
        return body


def get_then_head(port, path):
    """GET path, then HEAD path, then GET again on one connection: the HEAD's head, the GET's
    body, and proof that the HEAD sent no body (the second GET's status line comes next)."""
    c = RawConn(port)
    try:
        c.send("GET", path)
        status, headers = c.read_head()
        body = c.read_body(int(headers["content-length"]))
        c.send("HEAD", path)
        hstatus, hheaders = c.read_head()
        c.send("GET", path)
        status2, _ = c.read_head()  # fails to parse if HEAD bytes of a body came first
        assert status2 == status
        return status, body, hstatus, hheaders
    finally:
        c.close()


def test_head_carries_the_get_length_proxied_and_own(node, gateway):
    n = node()
    gw = gateway([addr(n)])
    # proxied routes (the node answers), and the gateway's own
    for path in ("/v2", "/v2/models/identity", "/v2/models/identity/config",
                 "/v2/models/nosuchmodel", "/v2/health/live", "/v2/health/ready",
                 "/dashboard"):
        status, body, hstatus, hheaders = get_then_head(gw.port, path)
        assert hstatus == status, path
        assert int(hheaders["content-length"]) == len(body) > 0, (path, hheaders, len(body))
    # the node's own HEAD answers agree with the gateway's
    for path in ("/v2", "/v2/models/identity"):
        _, body, _, hheaders = get_then_head(n.port, path)
        assert int(hheaders["content-length"]) == len(body)


def test_head_length_of_a_fake_node_passes_through(gateway, fakes):
    f = fakes(body=b'{"result": "x' + b"y" * 1000 + b'"}')
    gw = known(gateway([f.address]))
    status, body, hstatus, hheaders = get_then_head(gw.port, "/v2/models/reverse")
    assert (status, hstatus) == (200, 200)
    assert int(hheaders["content-length"]) == len(body) == 1015
    assert [r[0] for r in f.requests if r[1] == "/v2/models/reverse"] == ["GET", "HEAD", "GET"]


class HeldNode:
    """A fake node whose /process answers wait until released; it records how many it held
    at once."""

    def __init__(self, fakes):
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.held = 0
        self.max_held = 0
        self.seen = 0
        self.fake = fakes(handler=self.handle)

    def handle(self, method, path, hdrs, body):
        with self.lock:
            self.held += 1
            self.seen += 1
            self.max_held = max(self.max_held, self.held)
        self.release.wait(timeout=30)
        with self.lock:
            self.held -= 1
        return 200, b'{"echo": ' + body + b'}'


def gw_metric(gw, name):
    status, _, text = gw.request("GET", "/metrics")
    assert status == 200
    return promtext.value(promtext.parse(text.decode()), name)


def post_process(gw, i, results, headers=None):
    body = json.dumps({"message": "m%d" % i})
    results[i] = gw.request("POST", "/process", body=body,
                            headers=dict({"Content-Type": "application/json"}, **(headers or {})))


def test_upstream_conns_capped_beyond_wait_in_order(gateway, fakes):
    held = HeldNode(fakes)
    gw = known(gateway([held.fake.address], ["--threads", "1", "--max-upstream-conns", "2",
                                             "--hedge-percent", "0"]))
    results = {}
    threads = [threading.Thread(target=post_process, args=(gw, i, results)) for i in range(6)]
    for t in threads:
        t.start()
    # two reach the node, four wait in the gateway (the node sees no third)
    wait_for(lambda: held.seen == 2 and gw_metric(gw, "inferd_gateway_upstream_waiting") == 4,
             what="2 held at the node and 4 waiting")
    assert held.max_held == 2
    held.release.set()
    for t in threads:
        t.join(timeout=30)
    for i in range(6):
        status, _, body = results[i]
        assert status == 200, (i, results[i])
        assert json.loads(body) == {"echo": {"message": "m%d" % i}}
    assert held.max_held == 2 and held.seen == 6
    assert gw_metric(gw, "inferd_gateway_upstream_waiting") == 0


def test_full_queue_is_503_and_waiting_is_deadline_aware(gateway, fakes):
    held = HeldNode(fakes)
    gw = known(gateway([held.fake.address], ["--threads", "1", "--max-upstream-conns", "1",
                                             "--max-upstream-queue", "1", "--hedge-percent", "0"]))
    results = {}
    first = threading.Thread(target=post_process, args=(gw, 0, results))
    first.start()
    wait_for(lambda: held.seen == 1, what="the first request at the node")
    # the second waits with a short deadline: 504 once it passes, the node never sees it
    second = threading.Thread(target=post_process,
                              args=(gw, 1, results, {"Inferd-Timeout-Ms": "300"}))
    second.start()
    wait_for(lambda: gw_metric(gw, "inferd_gateway_upstream_waiting") == 1, what="one waiting")
    # the queue (1) is full: the third is 503 at once
    post_process(gw, 2, results)
    status, headers, body = results[2]
    assert status == 503 and headers.get("retry-after") == "1", results[2]
    assert b"queue is full" in body
    assert gw_metric(gw, "inferd_gateway_upstream_queue_full_total") == 1
    second.join(timeout=30)
    assert results[1][0] == 504, results[1]
    assert gw_metric(gw, "inferd_gateway_upstream_waiting") == 0
    held.release.set()
    first.join(timeout=30)
    assert results[0][0] == 200
    assert held.seen == 1
    # and the node serves again afterwards
    post_process(gw, 3, results)
    assert results[3][0] == 200 and held.seen == 2


def test_max_upstream_flags_are_checked():
    for flag in ("--max-upstream-conns", "--max-upstream-queue"):
        out = subprocess.run([bin_path("inferd-gateway"), "--http-port", "0", "--node",
                              "127.0.0.1:1", flag, "x"], capture_output=True, text=True,
                             timeout=10)
        assert out.returncode != 0 and flag in out.stderr, out


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for %d" % pid)


def test_large_binary_infer_streams_through_with_bounded_memory(gateway, fakes):
    """A 64 MiB binary infer goes through without the gateway holding it: the node gets
    every byte (its digest matches) while the gateway's peak RSS grows far less than that."""
    got = {}

    def digest(method, path, hdrs, body):
        got["len"], got["sha"] = len(body), hashlib.sha256(body).hexdigest()
        got["headers"] = hdrs
        return 200, json.dumps({"len": len(body)}).encode()

    data = os.urandom(64 << 20)
    head = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "UINT8",
                                   "shape": [1, len(data)],
                                   "parameters": {"binary_data_size": len(data)}}]}).encode()
    body = head + data
    f = fakes(handler=digest)
    # the fake node shares this busy Python process: its health checks may be slow
    gw = known(gateway([f.address], ["--max-body-bytes", str(80 << 20),
                                     "--health-timeout-ms", "10000",
                                     "--health-fail-threshold", "20"]))
    before = peak_rss_kib(gw.proc.pid)
    status, _, answer = gw.request(
        "POST", "/v2/models/reverse/infer", body=body, timeout=120,
        headers={"Inference-Header-Content-Length": str(len(head)),
                 "Content-Type": "application/octet-stream"})
    assert (status, json.loads(answer)) == (200, {"len": len(body)})
    assert got["len"] == len(body) and got["sha"] == hashlib.sha256(body).hexdigest()
    assert got["headers"]["inference-header-content-length"] == str(len(head))
    grown = peak_rss_kib(gw.proc.pid) - before
    assert grown < 16 * 1024, "gateway peak RSS grew by %d KiB for a 64 MiB body" % grown
    assert gw_metric(gw, "inferd_gateway_bodies_streamed_total") == 1
    # a body under --body-buffer-bytes is read whole (hashed for routing), not streamed
    status, _, answer = gw.request("POST", "/v2/models/reverse/infer", body=b"x" * 1000)
    assert (status, got["len"]) == (200, 1000)
    assert gw_metric(gw, "inferd_gateway_bodies_streamed_total") == 1


def test_streamed_body_cut_short_and_small_threshold(gateway, fakes):
    """With --body-buffer-bytes 0 every body streams (and pooled connections are reused after);
    a client that stops sending halfway and leaves ends its request at once."""
    got = []
    f = fakes(handler=lambda m, p, h, b: (got.append(b), (200, b'{"ok": 1}'))[1])
    gw = known(gateway([f.address], ["--body-buffer-bytes", "0"]))
    for i in range(5):  # keep-alive reuse after streamed bodies
        status, _, _ = gw.request("POST", "/process", body=b'{"message": "s%d"}' % i)
        assert status == 200
    assert got == [b'{"message": "s%d"}' % i for i in range(5)]
    assert gw_metric(gw, "inferd_gateway_bodies_streamed_total") == 5
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    s.sendall(b"POST /process HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"a" * 1000)
    s.close()
    # the gateway ends the cut request at once (counted as a 4xx: 400 to a client that left),
    # its node's copy is cancelled, and nothing lingers in flight
    wait_for(lambda: promtext.value(promtext.parse(promtext.scrape(gw)),
                                    "inferd_gateway_requests_total", outcome="4xx") == 1,
             what="the cut request ended")
    wait_for(lambda: all(n["in_flight"] == 0 for n in gw.nodes_json()),
             what="no request in flight")
    assert len(got) == 5
    assert gw.request("POST", "/process", body=b'{"message": "after"}')[0] == 200


class StrayByteNode:
    """A node on a raw socket that answers a HEAD with its head (Content-Length: 5, no body)
    and then one stray byte, in the same write (`later` False) or in a write of its own after
    the gateway has had the answer (`later` True). Every other request gets a proper answer."""

    def __init__(self, later):
        self.later = later
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.conns = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = b""
        c.settimeout(20)
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    more = c.recv(65536)
                    if not more:
                        return
                    buf += more
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode().split("\r\n")
                method, path = lines[0].split()[:2]
                n = 0
                for line in lines[1:]:
                    k, v = line.split(":", 1)
                    if k.strip().lower() == "content-length":
                        n = int(v)
                while len(buf) < n:
                    buf += c.recv(65536)
                buf = buf[n:]
                if path == "/v2/repository/index":
                    out = b'[{"name": "reverse", "state": "READY"}]'
                elif path == "/v2/health/ready":
                    out = b""
                else:
                    out = b"hello"
                head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(out)
                if method == "HEAD":
                    if self.later:
                        c.sendall(head)
                        time.sleep(0.05)
                        c.sendall(b"X")
                    else:
                        c.sendall(head + b"X")
                else:
                    c.sendall(head + out)
        except OSError:
            return
        finally:
            c.close()

    def close(self):
        self.stop.set()
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


@pytest.mark.parametrize("later", [False, True])
def test_stray_byte_after_a_head_answer_fails_nothing(gateway, later):
    """A node that sends a byte after its HEAD answer: the HEAD is answered 200 with the
    node's length, and the requests after it on the gateway (which may reuse that node
    connection) are answered 200 too, never 502."""
    node = StrayByteNode(later)
    try:
        gw = known(gateway(["127.0.0.1:%d" % node.port]))
        for i in range(5):
            status, headers, _ = gw.request("HEAD", "/v2/models/reverse")
            assert (status, headers.get("content-length")) == (200, "5"), i
            if later:
                time.sleep(0.01)  # the next request may take the connection before the byte
            status, _, body = gw.request("GET", "/v2/models/reverse")
            assert (status, body) == (200, b"hello"), i
    finally:
        node.close()
