# Seeded fuzzing of the HTTP parser and the KServe JSON codec: mutated requests and bodies
# must each get an answer or a closed connection, and the node must keep serving.
import json
import random
import socket

from conftest import MOCK_IDENTITY, MOCK_REVERSE
from rawhttp import Reader, request_bytes

VALID = [
    request_bytes("POST", "/process", '{"message": "fuzz"}'),
    request_bytes("POST", "/v2/models/identity/infer", json.dumps(
        {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [2, 2],
                     "data": [[1, 2], [3, 4]]}], "id": "z"})),
    request_bytes("GET", "/v2/models/reverse"),
    b"POST /process HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\n{\"mes\r\n10\r\nsage\": \"chunky\"}\r\n0\r\n\r\n",
]
TOKENS = [b"\r\n", b"\r\n\r\n", b":", b" ", b"\x00", b"\xff", b"{", b"}", b"[", b"]", b"\"",
          b"Content-Length: 99999999999999999999", b"Transfer-Encoding: chunked", b"-1",
          b"1e999", b"NaN", b"\\u0000", b"HTTP/1.1", b"%00", b"/../"]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randint(0, 3)
        pos = rng.randint(0, len(data))
        if op == 0 and data:
            del data[pos:pos + rng.randint(1, 8)]
        elif op == 1:
            data[pos:pos] = rng.choice(TOKENS)
        elif op == 2 and data:
            data[min(pos, len(data) - 1)] = rng.randint(0, 255)
        else:
            data[pos:pos] = bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 16)))
    return bytes(data)


def exchange(n, payload):
    s = n.connect(timeout=5)
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)   # no more bytes: the node must answer or close
        r = Reader(s, timeout=5)
        while True:
            try:
                resp = r.read_response()
            except (ConnectionError, OSError):
                return
            assert 200 <= resp.status < 600
    finally:
        s.close()


def test_fuzzed_http_requests(node, model_repo):
    n = node(repo=model_repo({"reverse": MOCK_REVERSE, "identity": MOCK_IDENTITY}),
             args=["--header-timeout-ms", "2000", "--max-body-bytes", "65536"])
    rng = random.Random(20261123)
    for i in range(400):
        exchange(n, mutate(rng, rng.choice(VALID)))
        if i % 100 == 99:
            assert n.alive()
            assert n.request("GET", "/v2/health/live")[0] == 200
    status, body = n.post_json("/process", {"message": "after fuzz"})
    assert status == 200 and body["result"] == "WORKER_PROCESSED: ZZUF RETFA"


def test_fuzzed_infer_bodies(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}))
    rng = random.Random(7)
    base = json.dumps({"id": "f", "inputs": [{"name": "INPUT0", "datatype": "FP32",
                                              "shape": [2, 3], "data": [[1, 2, 3], [4, 5, 6]]}],
                       "outputs": [{"name": "OUTPUT0"}],
                       "parameters": {"timeout": 1000000, "priority": 1}}).encode()
    statuses = set()
    for _ in range(300):
        status, _, raw = n.request("POST", "/v2/models/identity/infer", body=mutate(rng, base))
        statuses.add(status)
        assert status in (200, 400, 504), (status, raw)
        json.loads(raw)   # always a JSON answer
    assert 400 in statuses
    assert n.alive()


def test_fuzzed_bytes_infer_bodies(node, model_repo):
    n = node(repo=model_repo({"reverse": MOCK_REVERSE}))
    rng = random.Random(11)
    base = (b'{"inputs": [{"name": "INPUT0", "datatype": "BYTES", "shape": [1, 3], '
            b'"data": [["a\\u00fcb", "\\ud83d\\ude00\\n", "plain \\"q\\""]]}]}')
    status, _, raw = n.request("POST", "/v2/models/reverse/infer", body=base)
    assert status == 200, raw
    assert json.loads(raw)["outputs"][0]["data"][2] == 'WORKER_PROCESSED: "Q" NIALP'
    for _ in range(300):
        status, _, raw = n.request("POST", "/v2/models/reverse/infer", body=mutate(rng, base))
        assert status in (200, 400), (status, raw)
        json.loads(raw)
    assert n.alive()
