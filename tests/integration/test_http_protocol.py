# HTTP/1.1 behaviour: keep-alive, pipelining in order, chunked bodies, Expect: 100-continue,
# and malformed requests of many kinds (each answered or closed, never hanging the node).
import json
import socket
import time

from conftest import MOCK_DELAY, MOCK_IDENTITY, MOCK_REVERSE
from rawhttp import Reader, request_bytes


def repo(model_repo):
    return model_repo({"reverse": MOCK_REVERSE, "identity": MOCK_IDENTITY, "delay": MOCK_DELAY})


def infer_body(value, delay_ms=None):
    body = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1], "data": [value]}]}
    if delay_ms is not None:
        body["parameters"] = {"delay_ms": delay_ms}
    return json.dumps(body)


def test_keep_alive_many_requests_one_connection(node, model_repo):
    n = node(repo=repo(model_repo))
    s = n.connect()
    r = Reader(s)
    for i in range(50):
        s.sendall(request_bytes("POST", "/process", json.dumps({"message": "m%d" % i})))
        resp = r.read_response()
        assert resp.status == 200
        assert json.loads(resp.body)["result"] == "WORKER_PROCESSED: " + ("m%d" % i)[::-1].upper()
        assert "connection" not in resp.headers
    s.close()


def test_pipelined_requests_answered_in_order(node, model_repo):
    n = node(repo=repo(model_repo))
    s = n.connect()
    r = Reader(s, timeout=20)
    # A slow request first, then fast ones: answers must still come in request order.
    reqs = [request_bytes("POST", "/v2/models/delay/infer", infer_body(0, delay_ms=300))]
    for i in range(1, 20):
        if i % 3 == 0:
            reqs.append(request_bytes("GET", "/v2/health/live"))
        else:
            reqs.append(request_bytes("POST", "/v2/models/identity/infer", infer_body(i)))
    s.sendall(b"".join(reqs))   # one write holding all of them
    for i in range(20):
        resp = r.read_response()
        assert resp.status == 200, resp
        body = json.loads(resp.body)
        if i == 0:
            assert body["model_name"] == "delay"
        elif i % 3 == 0:
            assert body == {"live": True}
        else:
            assert body["outputs"][0]["data"] == [i]
    s.close()


def test_pipeline_split_across_writes(node, model_repo):
    n = node(repo=repo(model_repo))
    s = n.connect()
    r = Reader(s)
    data = b"".join(request_bytes("POST", "/v2/models/identity/infer", infer_body(i))
                    for i in range(10))
    # dribble in odd-sized pieces that cut through request lines, headers and bodies
    for k in range(0, len(data), 37):
        s.sendall(data[k:k + 37])
    for i in range(10):
        resp = r.read_response()
        assert resp.status == 200 and json.loads(resp.body)["outputs"][0]["data"] == [i]
    s.close()


def test_many_pipelined_beyond_in_flight_limit(node, model_repo):
    n = node(repo=repo(model_repo), args=["--max-pipeline", "4"])
    s = n.connect()
    r = Reader(s, timeout=30)
    count = 200
    s.sendall(b"".join(request_bytes("POST", "/v2/models/identity/infer", infer_body(i))
                       for i in range(count)))
    for i in range(count):
        resp = r.read_response()
        assert resp.status == 200 and json.loads(resp.body)["outputs"][0]["data"] == [i]
    s.close()


def test_connection_close_and_http10(node, model_repo):
    n = node(repo=repo(model_repo))
    s = n.connect()
    r = Reader(s)
    s.sendall(request_bytes("GET", "/v2/health/live", headers={"Connection": "close"}))
    resp = r.read_response()
    assert resp.status == 200 and resp.headers.get("connection") == "close"
    assert r.closed_by_peer()
    s.close()
    s = n.connect()
    r = Reader(s)
    s.sendall(request_bytes("GET", "/v2/health/live", version="HTTP/1.0"))
    resp = r.read_response()
    assert resp.status == 200
    assert r.closed_by_peer()
    s.close()
    # HTTP/1.0 with keep-alive asked for: said explicitly, and the connection stays open
    s = n.connect()
    r = Reader(s)
    s.sendall(request_bytes("GET", "/v2/health/live", version="HTTP/1.0",
                            headers={"Connection": "keep-alive"}) * 2)
    for _ in range(2):
        resp = r.read_response()
        assert resp.status == 200 and resp.headers.get("connection") == "keep-alive"
    assert not r.closed_by_peer(timeout=0.3)
    s.close()


def test_chunked_body(node, model_repo):
    n = node(repo=repo(model_repo))
    s = n.connect()
    r = Reader(s)
    body = json.dumps({"message": "chunky"}).encode()
    chunks = b""
    for k in range(0, len(body), 5):
        piece = body[k:k + 5]
        chunks += b"%x\r\n%s\r\n" % (len(piece), piece)
    chunks += b"0\r\n\r\n"
    s.sendall(b"POST /process HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    resp = r.read_response()
    assert resp.status == 200
    assert resp.body == b'{"result": "WORKER_PROCESSED: YKNUHC"}'
    s.close()


def test_expect_100_continue(node, model_repo):
    n = node(repo=repo(model_repo))
    s = n.connect()
    body = b'{"message": "abc"}'
    s.sendall(b"POST /process HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body))
    s.settimeout(5)
    first = s.recv(100)
    assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    r = Reader(s)
    r.buf = first[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
    s.sendall(body)
    resp = r.read_response()
    assert resp.status == 200 and resp.body == b'{"result": "WORKER_PROCESSED: CBA"}'
    s.close()


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"\x00\x01\x02\x03\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"G@T / HTTP/1.1\r\n\r\n",
    b"POST /process HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"POST /process HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /process HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"POST /process HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
    b"GET / HTTP/1.1\r\n: novalue\r\n\r\n",
]


def test_malformed_requests_get_400_and_close(node, model_repo):
    n = node(repo=repo(model_repo))
    for raw in MALFORMED:
        s = n.connect()
        r = Reader(s)
        s.sendall(raw)
        try:
            resp = r.read_response()
            assert resp.status in (400, 505), (raw, resp)
            assert json.loads(resp.body)["error"], raw
            assert resp.headers.get("connection") == "close"
        except ConnectionError:
            pass   # closing without an answer is acceptable for pure garbage
        assert r.closed_by_peer(), raw
        s.close()
    # still serving
    assert n.request("GET", "/v2/health/live")[0] == 200


def test_bad_method_is_405_not_crash(node, model_repo):
    n = node(repo=repo(model_repo))
    for method in ["PATCH", "OPTIONS", "PROPFIND", "MKCOL"]:
        status, headers, body = n.request(method, "/v2/health/live")
        assert status == 405 and "allow" in headers, method


def test_client_disconnects_mid_request(node, model_repo):
    n = node(repo=repo(model_repo))
    # a request whose client vanishes while the model works on it
    s = n.connect()
    s.sendall(request_bytes("POST", "/v2/models/delay/infer", infer_body(1, delay_ms=300)))
    s.close()
    # half a body, then gone
    s = n.connect()
    s.sendall(b"POST /process HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"mess")
    s.close()
    # headers only, then gone
    s = n.connect()
    s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
    s.close()
    # a request sent after the vanished one, answered after it has finished too
    status, body = n.post_json("/v2/models/delay/infer", json.loads(infer_body(2, delay_ms=300)))
    assert status == 200 and body["outputs"][0]["data"] == [2]
    assert n.alive()
    status, body = n.post_json("/process", {"message": "still here"})
    assert status == 200 and body["result"] == "WORKER_PROCESSED: EREH LLITS"


def test_query_string_ignored_for_routing(node, model_repo):
    n = node(repo=repo(model_repo))
    status, body = n.get_json("/v2/health/live?verbose=1")
    assert status == 200 and body == {"live": True}
    # the path the server hands over excludes the query: it is not part of the 404's message
    status, body = n.get_json("/v2/nope?secret=1")
    assert status == 404 and "secret" not in body["error"] and "/v2/nope" in body["error"]


def read_to_eof(s, timeout=10.0):
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            break
        if not chunk:
            break
        data += chunk
    return data


def test_head_error_answers_have_no_body(node, model_repo):
    n = node(repo=repo(model_repo))
    # malformed HTTP after a HEAD request line: 400 and close, with nothing after the head
    s = n.connect()
    s.sendall(b"HEAD /v2/health/live HTTP/1.1\r\nBad Header Line\r\n\r\n")
    data = read_to_eof(s)
    s.close()
    assert data.startswith(b"HTTP/1.1 400 "), data
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep and rest == b"", data
    assert b"connection: close" in head.lower()
    # errors from the routes (404, 405) on HEAD: headers only; the next pipelined answer
    # follows the blank line at once
    s = n.connect()
    s.sendall(request_bytes("HEAD", "/v2/models/nosuch") +
              request_bytes("HEAD", "/v2/models/identity/infer") +
              request_bytes("GET", "/v2/health/live", headers={"Connection": "close"}))
    data = read_to_eof(s)
    s.close()
    parts = data.split(b"\r\n\r\n")
    assert parts[0].startswith(b"HTTP/1.1 404 "), data
    assert parts[1].startswith(b"HTTP/1.1 405 "), data
    assert parts[2].startswith(b"HTTP/1.1 200 "), data
    assert parts[3] == b'{"live": true}', data
