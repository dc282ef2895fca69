# Limits: header timeout against slow clients, idle timeout, body size (413), header size
# (431), the connection cap; a misbehaving client never holds up the others.
import json
import socket
import time

from conftest import MOCK_IDENTITY, MOCK_REVERSE
from rawhttp import Reader, request_bytes


def repo(model_repo):
    return model_repo({"reverse": MOCK_REVERSE, "identity": MOCK_IDENTITY})


def test_slow_header_dribble_is_cut_off(node, model_repo):
    n = node(repo=repo(model_repo), args=["--header-timeout-ms", "700"])
    slow = n.connect()
    r = Reader(slow)
    start = time.monotonic()
    closed = False
    # one byte every 100 ms: the headers would take far longer than 700 ms
    for ch in b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
        try:
            slow.sendall(bytes([ch]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        # meanwhile another client is served normally
        if ch == ord("H"):
            assert n.request("GET", "/v2/health/live", timeout=5)[0] == 200
        if r.closed_by_peer(timeout=0.1):
            closed = True
            break
        if time.monotonic() - start > 10:
            break
    assert closed, "slow client was not disconnected within 10 s (header timeout 0.7 s)"
    assert n.request("GET", "/v2/health/live")[0] == 200


def test_silent_connection_is_closed_after_idle_timeout(node, model_repo):
    n = node(repo=repo(model_repo), args=["--idle-timeout-ms", "500"])
    s = n.connect()
    r = Reader(s)
    s.sendall(request_bytes("GET", "/v2/health/live"))
    assert r.read_response().status == 200
    assert r.closed_by_peer(timeout=5)


def test_silent_connection_without_request_is_closed(node, model_repo):
    n = node(repo=repo(model_repo), args=["--idle-timeout-ms", "500"])
    s = n.connect()
    assert Reader(s).closed_by_peer(timeout=5)


def test_oversized_body_413_before_reading_it(node, model_repo):
    n = node(repo=repo(model_repo), args=["--max-body-bytes", "1000"])
    s = n.connect()
    r = Reader(s)
    # announce 100 MB but send only the headers: the answer must come without the body
    s.sendall(b"POST /process HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
    resp = r.read_response()
    assert resp.status == 413
    assert "limit" in json.loads(resp.body)["error"]
    assert resp.headers.get("connection") == "close"
    assert r.closed_by_peer()
    # exactly at the limit is fine
    body = json.dumps({"message": "x" * (1000 - len('{"message": ""}'))})
    assert len(body) == 1000
    status, _, _ = n.request("POST", "/process", body=body)
    assert status == 200


def test_oversized_chunked_body_413(node, model_repo):
    n = node(repo=repo(model_repo), args=["--max-body-bytes", "1000"])
    s = n.connect()
    r = Reader(s)
    s.sendall(b"POST /process HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        for _ in range(10):
            s.sendall(b"190\r\n" + b"a" * 400 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    resp = r.read_response()
    assert resp.status == 413
    assert r.closed_by_peer()


def test_huge_header_431(node, model_repo):
    n = node(repo=repo(model_repo))
    s = n.connect()
    r = Reader(s)
    try:
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40000 + b"\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    resp = r.read_response()
    assert resp.status == 431
    assert r.closed_by_peer()
    # a long URL counts too
    s = n.connect()
    r = Reader(s)
    try:
        s.sendall(b"GET /" + b"u" * 20000 + b" HTTP/1.1\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert r.read_response().status == 431
    assert n.request("GET", "/v2/health/live")[0] == 200


def test_connection_cap(node, model_repo):
    n = node(repo=repo(model_repo), args=["--max-connections", "3"])
    # The fixture's readiness probe may still count for a moment after its client closed
    # it, so a held connection that is refused is tried again (bounded).
    held = []
    deadline = time.monotonic() + 5
    while len(held) < 3 and time.monotonic() < deadline:
        s = n.connect()
        s.sendall(request_bytes("GET", "/v2/health/live"))
        try:
            assert Reader(s).read_response().status == 200
            held.append(s)
        except ConnectionError:
            s.close()
            time.sleep(0.05)
    assert len(held) == 3, "three connections under the cap of 3 were not all served"
    extra = n.connect()
    assert Reader(extra).closed_by_peer(timeout=5)   # accepted, then closed
    extra.close()
    for s in held:
        s.close()
    # capacity comes back once they are gone (bounded wait)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if n.request("GET", "/v2/health/live", timeout=2)[0] == 200:
                break
        except OSError:
            time.sleep(0.05)
    else:
        raise AssertionError("node did not accept connections again")


def test_backpressure_client_not_reading(node, model_repo):
    # A client that pipelines many requests and never reads: the node stops reading it,
    # stays bounded and keeps serving others.
    n = node(repo=repo(model_repo), args=["--max-pipeline", "8"])
    hog = n.connect()
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    req = request_bytes("POST", "/v2/models/identity/infer", json.dumps(
        {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2000],
                     "data": [1.5] * 2000}]}))
    hog.setblocking(False)
    sent = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and sent < 50_000_000:
        try:
            sent += hog.send(req)
        except BlockingIOError:
            break   # the node stopped reading us: that is the backpressure
    assert sent < 50_000_000
    assert n.request("GET", "/v2/health/live", timeout=5)[0] == 200
    hog.close()


def send_large_infer(n, values):
    """A connection with little kernel receive buffering that has sent an identity request of
    `values` floats (its JSON answer is about 4 x values bytes)."""
    # the request is built before the connection is opened: building it takes seconds on a
    # loaded machine, and a connection silent for an idle timeout is closed (a broken pipe)
    req = request_bytes("POST", "/v2/models/identity/infer",
                        ('{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, %d], '
                         '"data": [%s]}]}' % (values, ",".join(["1"] * values))).encode())
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)  # little kernel buffering
    s.settimeout(30)  # encoding megabytes of JSON under ASan on a loaded machine takes seconds
    s.connect((n.host, n.port))
    s.sendall(req)
    return s


def answer_length(got):
    """The whole length (head and body) of the answer whose head is in got, or None."""
    head_end = got.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    return head_end + 4 + int([l.split(b":")[1] for l in got[:head_end].split(b"\r\n")
                               if l.lower().startswith(b"content-length:")][0])


def test_slow_steady_reader_of_a_large_answer_is_not_cut_off(node, model_repo):
    # The idle (stall) clock of a connection with an answer being written restarts whenever
    # the client takes more of it: only a client that stops reading is cut off. The bytes it
    # takes count also while the kernel's send queue (megabytes on loopback) still holds the
    # rest: a steady reader slowed down by a loaded machine is not one that stopped.
    # 2 s, not less: on a loaded 2-core machine a client can lose the CPU for most of a second.
    n = node(repo=repo(model_repo), args=["--idle-timeout-ms", "2000"])
    values = 3 * 1000 * 1000
    s = send_large_infer(n, values)
    got, start, reads = bytearray(), time.monotonic(), 0
    # at most 64 KiB a read and 4 reads every 150 ms (1.75 MB/s): the answer (> 6 MB) takes
    # more than one idle timeout to read, while the client never pauses for long
    while time.monotonic() - start < 60:
        chunk = s.recv(64 * 1024)
        if not chunk:
            break
        got += chunk
        whole = answer_length(got)
        if whole is not None and len(got) >= whole:
            break
        reads += 1
        if reads % 4 == 0:
            time.sleep(0.15)
    head_end = got.find(b"\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200"), bytes(got[:200])
    answer = json.loads(bytes(got[head_end + 4:]))
    assert len(answer["outputs"][0]["data"]) == values
    assert time.monotonic() - start > 2.0, "the answer was read faster than one idle timeout"


def test_reader_that_stops_taking_a_large_answer_is_cut_off(node, model_repo):
    # The other side of the test above: a client that takes the head of a ~12 MB answer and
    # then nothing more is closed after the idle timeout, though the kernel still holds
    # megabytes it has not taken.
    n = node(repo=repo(model_repo), args=["--idle-timeout-ms", "1000"])
    s = send_large_infer(n, 3 * 1000 * 1000)
    got = bytearray()
    while answer_length(got) is None:
        chunk = s.recv(64 * 1024)
        assert chunk, "closed before the answer's head"
        got += chunk
    assert got.startswith(b"HTTP/1.1 200"), bytes(got[:200])
    time.sleep(5)  # the point of the test: the client stops reading, for 5 idle timeouts
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(1 << 20)
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    assert len(got) < answer_length(got), "a client that stopped reading got the whole answer"
    assert n.request("GET", "/v2/health/live")[0] == 200
