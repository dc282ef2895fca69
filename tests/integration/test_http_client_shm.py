# Triton's system shared-memory extension over HTTP, with regions made by Python's
# multiprocessing.shared_memory: off by default; register, status, infer with inputs and
# outputs in shared memory (no tensor bytes on the socket), unregister one or all; a region
# in use by a request in flight cannot be unregistered; every misuse is a clear 400.
import json
import os

import numpy as np
import pytest

import rawhttp

SHM = "/v2/systemsharedmemory"


def identity_cfg(dtype="FP32"):
    return {"backend": "identity", "max_batch_size": 8,
            "inputs": [{"name": "INPUT0", "datatype": dtype, "dims": [-1]}],
            "outputs": [{"name": "OUTPUT0", "datatype": dtype, "dims": [-1]}],
            "workers": {"min": 1, "max": 1}}


DELAY_CFG = {"backend": "delay", "max_batch_size": 8, "delay_ms": 10, "max_delay_ms": 5000,
             "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
             "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}],
             "workers": {"min": 1, "max": 1}}


def key_of(m):
    return "/" + m.name  # the shm_open name of a multiprocessing.shared_memory object


def register(n, name, key, byte_size, offset=0):
    return n.post_json("%s/region/%s/register" % (SHM, name),
                       {"key": key, "offset": offset, "byte_size": byte_size})


def shm_infer_body(in_region, in_size, out_region, out_size, count, in_off=0, out_off=0,
                   **top):
    body = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, count],
                        "parameters": {"shared_memory_region": in_region,
                                       "shared_memory_byte_size": in_size,
                                       "shared_memory_offset": in_off}}],
            "outputs": [{"name": "OUTPUT0",
                         "parameters": {"shared_memory_region": out_region,
                                        "shared_memory_byte_size": out_size,
                                        "shared_memory_offset": out_off}}]}
    body.update(top)
    return body


def test_off_by_default(node, model_repo, regions):
    n = node(repo=model_repo({"ident": identity_cfg()}))
    m = regions(4096)
    status, meta = n.get_json("/v2")
    assert "system_shared_memory" not in meta["extensions"]
    status, body = register(n, "r", key_of(m), 64)
    assert status == 403 and "--allow-client-shm" in body["error"]
    status, body = n.get_json(SHM + "/status")
    assert status == 403
    status, body = n.post_json("/v2/models/ident/infer", shm_infer_body("r", 16, "r", 16, 4))
    assert status == 400 and "disabled" in body["error"]


def test_register_infer_status_unregister(node, model_repo, regions):
    n = node(repo=model_repo({"ident": identity_cfg()}), args=["--allow-client-shm"])
    status, meta = n.get_json("/v2")
    assert "system_shared_memory" in meta["extensions"]
    count = 1000
    inp = regions(12288)
    out = regions(8192)
    vals = np.arange(count, dtype=np.float32) * 0.5
    # input at offset 100 inside a region that itself starts at offset 4096 of the object
    np.ndarray(count, dtype=np.float32, buffer=inp.buf, offset=4096 + 100)[:] = vals
    assert register(n, "in", key_of(inp), 8192, offset=4096)[0] == 200
    assert register(n, "out", key_of(out), 8192)[0] == 200
    status, st = n.get_json(SHM + "/status")
    assert status == 200
    assert {r["name"]: (r["key"], r["offset"], r["byte_size"]) for r in st} == {
        "in": (key_of(inp), 4096, 8192), "out": (key_of(out), 0, 8192)}
    status, st = n.get_json(SHM + "/region/in/status")
    assert status == 200 and len(st) == 1 and st[0]["name"] == "in"

    status, headers, data = n.request("POST", "/v2/models/ident/infer", body=shm_infer_body(
        "in", count * 4, "out", 8192 - 16, count, in_off=100, out_off=16, id="s1"))
    assert status == 200, data
    res = json.loads(data)
    o = res["outputs"][0]
    assert res["id"] == "s1"
    assert "data" not in o
    assert o["parameters"] == {"shared_memory_region": "out",
                               "shared_memory_byte_size": count * 4}
    got = np.ndarray(count, dtype=np.float32, buffer=out.buf, offset=16)
    assert np.array_equal(got, vals)
    assert len(data) < 400  # no tensor bytes on the socket

    # unregister one, then all
    assert n.post_json(SHM + "/region/in/unregister", {})[0] == 200
    status, body = n.get_json(SHM + "/region/in/status")
    assert status == 400 and "no shared memory region 'in'" in body["error"]
    assert register(n, "in2", key_of(inp), 64)[0] == 200
    assert n.post_json(SHM + "/unregister", {})[0] == 200
    status, st = n.get_json(SHM + "/status")
    assert status == 200 and st == []


def test_unregister_while_in_flight_is_refused(node, model_repo, regions):
    n = node(repo=model_repo({"slow": DELAY_CFG}), args=["--allow-client-shm"])
    inp = regions(4096)
    out = regions(4096)
    np.ndarray(4, dtype=np.float32, buffer=inp.buf)[:] = [1, 2, 3, 4]
    assert register(n, "in", key_of(inp), 4096)[0] == 200
    assert register(n, "out", key_of(out), 4096)[0] == 200
    infer = json.dumps(shm_infer_body("in", 16, "out", 16, 4,
                                      parameters={"delay_ms": 1500})).encode()
    # pipelined on one connection: the infer is decoded (its regions taken) before the
    # unregister requests behind it are handled, while it waits in the model for 1.5 s
    sock = n.connect()
    reader = rawhttp.Reader(sock, timeout=20)
    try:
        sock.sendall(rawhttp.request_bytes("POST", "/v2/models/slow/infer", infer) +
                     rawhttp.request_bytes("POST", SHM + "/region/out/unregister") +
                     rawhttp.request_bytes("POST", SHM + "/unregister"))
        r1 = reader.read_response()
        r2 = reader.read_response()
        r3 = reader.read_response()
    finally:
        sock.close()
    assert r1.status == 200, r1
    assert np.array_equal(np.ndarray(4, dtype=np.float32, buffer=out.buf), [1, 2, 3, 4])
    assert r2.status == 400 and b"in use" in r2.body, r2
    assert r3.status == 400 and b"in use" in r3.body, r3
    # the refused "unregister all" kept the regions in use (both) and removed none else
    status, st = n.get_json(SHM + "/status")
    assert sorted(r["name"] for r in st) == ["in", "out"]
    # once answered, the regions are free again
    assert n.post_json(SHM + "/region/out/unregister", {})[0] == 200
    assert n.post_json(SHM + "/unregister", {})[0] == 200


def test_misuse_is_a_clear_400(node, model_repo, regions):
    n = node(repo=model_repo({"ident": identity_cfg()}),
             args=["--allow-client-shm", "--max-client-shm-regions", "2"])
    m = regions(4096)
    key = key_of(m)
    cases = [
        # registration
        (("/region/a/register", {"key": key, "offset": 4000, "byte_size": 200}),
         "beyond the object's"),
        (("/region/a/register", {"key": "/inferd-test-no-such-object", "byte_size": 16}),
         "cannot open"),
        (("/region/a/register", {"key": "no-slash", "byte_size": 16}), "shm_open name"),
        (("/region/a/register", {"key": key, "byte_size": 0}), "byte_size must be > 0"),
        (("/region/a/register", {"key": key, "byte_size": -5}), "non-negative integer"),
        (("/region/a/register", {"key": key}), "non-negative integer"),
        (("/region/a/register", {"offset": 0, "byte_size": 16}), "'key' must be a string"),
        (("/region/a/register", "not json"), "expected a JSON object"),
        (("/region/nope/unregister", {}), "no shared memory region 'nope'"),
    ]
    for (path, body), words in cases:
        status, res = n.post_json(SHM + path, body)
        assert status == 400 and words in res["error"], (path, body, status, res)
    assert register(n, "a", key, 1024)[0] == 200
    status, res = register(n, "a", key, 1024)
    assert status == 400 and "already registered" in res["error"]
    assert register(n, "b", key, 1024)[0] == 200
    status, res = register(n, "c", key, 1024)
    assert status == 400 and "limit of 2 regions" in res["error"]
    # infer misuse: a span beyond the region, an unknown region, a size that does not fit the
    # shape, one of the two required parameters, an output region too small
    infer_cases = [
        (shm_infer_body("a", 16, "b", 16, 4, in_off=1020), "beyond its 1024 bytes"),
        (shm_infer_body("zz", 16, "b", 16, 4), "no shared memory region 'zz'"),
        (shm_infer_body("a", 12, "b", 16, 4), "need 16"),
        ({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4],
                      "parameters": {"shared_memory_region": "a"}}]}, "needs both"),
        (shm_infer_body("a", 16, "b", 8, 4), "more than the 8 of its shared_memory_byte_size"),
        (dict(shm_infer_body("a", 16, "b", 16, 4),
              outputs=[{"name": "OUTPUT0", "parameters": {
                  "shared_memory_region": "b", "shared_memory_byte_size": 16,
                  "binary_data": True}}]), "cannot both"),
    ]
    for body, words in infer_cases:
        status, res = n.post_json("/v2/models/ident/infer", body)
        assert status == 400 and words in res["error"], (body, status, res)
    # nothing is left holding a region: both unregister
    assert n.post_json(SHM + "/unregister", {})[0] == 200
    # wrong methods
    status, _, _ = n.request("GET", SHM + "/region/a/register")
    assert status == 405
    status, _, _ = n.request("POST", SHM + "/status")
    assert status == 405


def test_object_shrunk_by_its_client(node, model_repo, regions):
    """A client that cuts its object below the registered region gets a 400, and the node
    (which would take SIGBUS touching the lost pages) keeps serving."""
    n = node(repo=model_repo({"ident": identity_cfg()}), args=["--allow-client-shm"])
    m = regions(8192)
    assert register(n, "r", key_of(m), 8192)[0] == 200
    os.ftruncate(m._fd, 4096)
    status, res = n.post_json("/v2/models/ident/infer",
                              shm_infer_body("r", 16, "r", 16, 4, in_off=6000, out_off=7000))
    assert status == 400 and "now smaller" in res["error"], res
    status, _ = n.get_json("/v2/health/live")
    assert status == 200
    assert n.post_json(SHM + "/unregister", {})[0] == 200


def test_status_lists_every_region_up_to_the_limit(node, model_repo, regions):
    n = node(repo=model_repo({"ident": identity_cfg()}),
             args=["--allow-client-shm", "--max-client-shm-regions", "70"])
    m = regions(4096)
    for i in range(70):
        assert register(n, "r%d" % i, key_of(m), 64, offset=i)[0] == 200
    assert register(n, "r70", key_of(m), 64)[0] == 400
    status, st = n.get_json(SHM + "/status")
    assert status == 200
    assert [r["name"] for r in st] == ["r%d" % i for i in range(70)]
    assert n.post_json(SHM + "/unregister", {})[0] == 200


def test_answered_request_holds_no_region(node, model_repo, regions):
    """Once a client has its answer (success or error), the request holds no region: an
    unregister sent at once, on a new connection that another loop thread may serve, succeeds.
    The node drops its references before it writes the answer, not after."""
    n = node(repo=model_repo({"ident": identity_cfg()}),
             args=["--allow-client-shm"])
    m = regions(4096)
    np.ndarray(4, np.float32, buffer=m.buf)[:] = [1, 2, 3, 4]
    bodies = [shm_infer_body("a", 16, "b", 16, 4),  # answered 200
              shm_infer_body("a", 16, "b", 8, 4)]   # output too big for its region: 400
    for i in range(60):
        assert register(n, "a", key_of(m), 1024)[0] == 200
        assert register(n, "b", key_of(m), 1024, offset=2048)[0] == 200
        status, res = n.post_json("/v2/models/ident/infer", bodies[i % 2])
        assert status == (200, 400)[i % 2], (i, status, res)
        status, res = n.post_json(SHM + "/unregister", {})
        assert status == 200, (i, status, res)
