# No head-of-line blocking on a loop: a large JSON body is decoded (and a large answer
# encoded) off the loop thread, so small requests on other connections of the same loop
# (--threads 1) are answered meanwhile. Asserted by order, not by time.
import fcntl
import json
import select
import struct
import termios
import time

from conftest import MOCK_IDENTITY, MOCK_REVERSE
from rawhttp import Reader, request_bytes


def unsent_bytes(sock):
    """Bytes the kernel has not yet had acknowledged by the peer (SIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


def wait_all_sent(sock, timeout=30.0):
    deadline = time.monotonic() + timeout
    while unsent_bytes(sock) > 0:
        assert time.monotonic() < deadline, "the node did not take the body in time"
        select.select([], [], [], 0.01)


def big_body(n, extra=0):
    """An identity request of n FP32 values whose data holds n + extra elements (extra > 0:
    refused, but only once every element has been decoded)."""
    data = ",".join(["0.5"] * (n + extra))
    return ('{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, %d], "data": [%s]}]}'
            % (n, data))


def test_small_requests_are_answered_while_a_large_body_is_decoded(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}),
             args=["--threads", "1", "--max-body-bytes", str(64 << 20)])
    body = big_body(8 << 20, extra=1)   # 8 Mi elements: 32 MiB of JSON
    assert len(body) > 32 << 20
    big = n.connect(timeout=60)
    small = n.connect(timeout=60)
    small_reader = Reader(small, timeout=60)
    big.sendall(request_bytes("POST", "/v2/models/identity/infer", body))
    wait_all_sent(big)   # the node's kernel has it all: decoding is about to start or on
    answered_before = 0
    for _ in range(20):
        small.sendall(request_bytes("GET", "/v2/health/live"))
        resp = small_reader.read_response()
        assert resp.status == 200
        readable, _, _ = select.select([big], [], [], 0)
        if readable:
            break
        answered_before += 1
    resp = Reader(big, timeout=120).read_response()
    assert resp.status == 400 and "element" in json.loads(resp.body)["error"], resp
    # every small request came back while the large one was still being decoded
    assert answered_before == 20, answered_before


def test_large_request_and_answer_round_trip(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}), args=["--threads", "1"])
    count = 200000   # ~0.8 MB of values in, more than the offload threshold both ways
    values = [float(i % 1000) for i in range(count)]
    status, body = n.infer("identity", [{"name": "INPUT0", "datatype": "FP32",
                                         "shape": [1, count], "data": values}],
                           extra={"id": "big-1"})
    assert status == 200, body
    assert body["id"] == "big-1"
    assert body["outputs"][0]["shape"] == [1, count]
    assert body["outputs"][0]["data"] == values
    # and the node still answers small ones inline
    assert n.request("GET", "/v2/health/live")[0] == 200


def test_large_process_body_parsed_off_the_loop(node, model_repo):
    n = node(repo=model_repo({"reverse": MOCK_REVERSE}), args=["--threads", "1"])
    text = "abc" * 200000   # 600 KB: parsed on the thread pool
    status, body = n.post_json("/process", {"message": text})
    assert status == 200, body
    assert body["result"] == "WORKER_PROCESSED: " + text[::-1].upper()
    status, body = n.post_json("/process", "{" + " " * 400000)   # malformed, and large
    assert status == 400 and "malformed JSON" in body["error"], body
