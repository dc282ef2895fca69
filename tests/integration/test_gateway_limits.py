# inferd-gateway's HTTP edges: a HEAD answer (proxied or the gateway's own) carries the
# Content-Length a GET would have and no body (checked on a raw socket: the next answer on
# the connection starts right after the head), and the cap on active upstream connections
# per node (--max-upstream-conns) queues requests beyond it or answers 503.
import json
import socket
import threading

import pytest

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
    gw = gateway([f.address])
    status, body, hstatus, hheaders = get_then_head(gw.port, "/v2/models/reverse")
    assert (status, hstatus) == (200, 200)
    assert int(hheaders["content-length"]) == len(body) == 1015
    assert [r[0] for r in f.requests if r[1] == "/v2/models/reverse"] == ["GET", "HEAD", "GET"]
