# Triton's system shared-memory extension over gRPC (SystemSharedMemoryStatus / Register /
# Unregister, and ModelInfer / ModelStreamInfer inputs and outputs named by
# shared_memory_region), with regions made by Python's multiprocessing.shared_memory, over the
# same registry as HTTP: off by default (UNAVAILABLE), register, status, infer with no tensor
# bytes in the messages, a region in use cannot be unregistered (FAILED_PRECONDITION), and
# every misuse is a clear error.
import time

import grpc
import numpy as np
import pytest

import grpcstubs

pb, rpc = grpcstubs.load()
SC = grpc.StatusCode

IDENT = {"backend": "identity", "max_batch_size": 8,
         "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
         "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}],
         "workers": {"min": 1, "max": 1}}
SLOW = dict(IDENT, backend="delay", delay_ms=10, max_delay_ms=5000)


def key_of(m):
    return "/" + m.name


def code_of(fn, req):
    with pytest.raises(grpc.RpcError) as e:
        fn(req, timeout=10)
    return e.value.code(), e.value.details()


def register(s, name, key, byte_size, offset=0):
    return s.SystemSharedMemoryRegister(pb.SystemSharedMemoryRegisterRequest(
        name=name, key=key, offset=offset, byte_size=byte_size), timeout=10)


def set_shm(params, region, size, offset=None):
    params["shared_memory_region"].string_param = region
    params["shared_memory_byte_size"].int64_param = size
    if offset is not None:
        params["shared_memory_offset"].int64_param = offset


def shm_request(model, count, in_region=None, in_size=0, out_region=None, out_size=0,
                in_off=None, out_off=None, data=None, rid=""):
    """ModelInferRequest for one FP32 input of shape [1, count]: from in_region, or raw data."""
    req = pb.ModelInferRequest(model_name=model, id=rid)
    t = req.inputs.add(name="INPUT0", datatype="FP32", shape=[1, count])
    if in_region is not None:
        set_shm(t.parameters, in_region, in_size, in_off)
    else:
        req.raw_input_contents.append(np.asarray(data, np.float32).tobytes())
    if out_region is not None:
        o = req.outputs.add(name="OUTPUT0")
        set_shm(o.parameters, out_region, out_size, out_off)
    return req


@pytest.fixture
def shm_node(node, model_repo):
    def start(models=None, args=("--allow-client-shm",)):
        n = node(repo=model_repo(models or {"ident": IDENT}), args=list(args))
        ch = grpcstubs.channel(n)
        started.append(ch)
        return n, rpc.GRPCInferenceServiceStub(ch)

    started = []
    yield start
    for ch in started:
        ch.close()


def test_off_by_default_is_unavailable(shm_node, regions):
    _, s = shm_node(args=())
    m = regions(4096)
    for fn, req in [(s.SystemSharedMemoryStatus, pb.SystemSharedMemoryStatusRequest()),
                    (s.SystemSharedMemoryRegister, pb.SystemSharedMemoryRegisterRequest(
                        name="r", key=key_of(m), byte_size=64)),
                    (s.SystemSharedMemoryUnregister, pb.SystemSharedMemoryUnregisterRequest())]:
        c, d = code_of(fn, req)
        assert c == SC.UNAVAILABLE and "--allow-client-shm" in d, (c, d)
    c, d = code_of(s.ModelInfer, shm_request("ident", 4, "r", 16))
    assert c == SC.INVALID_ARGUMENT and "disabled" in d


def test_register_infer_status_unregister(shm_node, regions):
    n, s = shm_node()
    count = 1000
    inp, out = regions(12288), regions(8192)
    vals = np.arange(count, dtype=np.float32) * 0.25
    np.ndarray(count, dtype=np.float32, buffer=inp.buf, offset=4096 + 100)[:] = vals
    register(s, "in", key_of(inp), 8192, offset=4096)
    register(s, "out", key_of(out), 8192)
    st = s.SystemSharedMemoryStatus(pb.SystemSharedMemoryStatusRequest(), timeout=10)
    assert {k: (v.name, v.key, v.offset, v.byte_size) for k, v in st.regions.items()} == {
        "in": ("in", key_of(inp), 4096, 8192), "out": ("out", key_of(out), 0, 8192)}
    one = s.SystemSharedMemoryStatus(pb.SystemSharedMemoryStatusRequest(name="out"), timeout=10)
    assert list(one.regions) == ["out"]
    # the same registry as HTTP
    status, body = n.get_json("/v2/systemsharedmemory/status")
    assert status == 200 and sorted(r["name"] for r in body) == ["in", "out"]

    req = shm_request("ident", count, "in", count * 4, "out", 8192 - 16, in_off=100, out_off=16,
                      rid="g1")
    resp = s.ModelInfer(req, timeout=10)
    assert resp.id == "g1" and len(resp.outputs) == 1
    assert resp.outputs[0].name == "OUTPUT0" and list(resp.outputs[0].shape) == [1, count]
    assert len(resp.raw_output_contents) == 0  # the bytes went to the region, as in Triton
    assert resp.ByteSize() < 200
    assert np.array_equal(np.ndarray(count, np.float32, buffer=out.buf, offset=16), vals)

    # shared-memory input, output returned in the message (and the reverse)
    resp = s.ModelInfer(shm_request("ident", count, "in", count * 4, in_off=100), timeout=10)
    assert np.array_equal(grpcstubs.output_array(resp, 0), vals.reshape(1, count))
    np.ndarray(4, np.float32, buffer=out.buf)[:] = 0
    resp = s.ModelInfer(shm_request("ident", 4, data=[[5, 6, 7, 8]], out_region="out",
                                    out_size=16), timeout=10)
    assert len(resp.raw_output_contents) == 0
    assert np.array_equal(np.ndarray(4, np.float32, buffer=out.buf), [5, 6, 7, 8])

    # unregister one, then all (empty name)
    s.SystemSharedMemoryUnregister(pb.SystemSharedMemoryUnregisterRequest(name="in"), timeout=10)
    c, d = code_of(s.SystemSharedMemoryStatus, pb.SystemSharedMemoryStatusRequest(name="in"))
    assert c == SC.NOT_FOUND and "'in'" in d
    s.SystemSharedMemoryUnregister(pb.SystemSharedMemoryUnregisterRequest(), timeout=10)
    assert not s.SystemSharedMemoryStatus(pb.SystemSharedMemoryStatusRequest(),
                                          timeout=10).regions


def test_stream_infer_with_shared_memory(shm_node, regions):
    _, s = shm_node()
    inp, out = regions(4096), regions(4096)
    register(s, "in", key_of(inp), 4096)
    register(s, "out", key_of(out), 4096)
    n_req = 8
    for i in range(n_req):
        np.ndarray(4, np.float32, buffer=inp.buf, offset=16 * i)[:] = [i, i + 1, i + 2, i + 3]
    reqs = [shm_request("ident", 4, "in", 16, "out", 16, in_off=16 * i, out_off=16 * i,
                        rid=str(i)) for i in range(n_req)]
    got = list(s.ModelStreamInfer(iter(reqs), timeout=20))
    assert len(got) == n_req and all(not r.error_message for r in got)
    assert sorted(r.infer_response.id for r in got) == [str(i) for i in range(n_req)]
    for i in range(n_req):
        assert np.array_equal(np.ndarray(4, np.float32, buffer=out.buf, offset=16 * i),
                              [i, i + 1, i + 2, i + 3])
    # a stream request naming an unknown region is reported on the stream, which goes on
    bad = shm_request("ident", 4, "nope", 16, rid="bad")
    got = list(s.ModelStreamInfer(iter([bad, reqs[0]]), timeout=20))
    errs = [r for r in got if r.error_message]
    assert len(got) == 2 and len(errs) == 1 and "no shared memory region 'nope'" in \
        errs[0].error_message and errs[0].infer_response.id == "bad"


def wait_in_flight(n, model, bound_s=15):
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        status, st = n.get_json("/v2/models/%s/stats" % model)
        d = st["model_stats"][0]["inferd"]
        if d["queue_len"] + d["batches_in_flight"] > 0:
            return
        time.sleep(0.02)
    raise AssertionError("the request never reached the model")


def test_unregister_in_use_is_refused(shm_node, regions):
    n, s = shm_node({"slow": SLOW})
    inp, out = regions(4096), regions(4096)
    np.ndarray(4, np.float32, buffer=inp.buf)[:] = [1, 2, 3, 4]
    register(s, "in", key_of(inp), 4096)
    register(s, "out", key_of(out), 4096)
    req = shm_request("slow", 4, "in", 16, "out", 16)
    req.parameters["delay_ms"].int64_param = 3000  # held in the queue while we unregister
    fut = s.ModelInfer.future(req, timeout=30)
    wait_in_flight(n, "slow")
    for name in ("out", "in", ""):
        c, d = code_of(s.SystemSharedMemoryUnregister,
                       pb.SystemSharedMemoryUnregisterRequest(name=name))
        assert c == SC.FAILED_PRECONDITION and "in use" in d, (name, c, d)
    resp = fut.result(timeout=30)
    assert len(resp.raw_output_contents) == 0
    assert np.array_equal(np.ndarray(4, np.float32, buffer=out.buf), [1, 2, 3, 4])
    # answered: both free again
    s.SystemSharedMemoryUnregister(pb.SystemSharedMemoryUnregisterRequest(), timeout=10)
    assert not s.SystemSharedMemoryStatus(pb.SystemSharedMemoryStatusRequest(),
                                          timeout=10).regions


def test_misuse(shm_node, regions):
    _, s = shm_node(args=["--allow-client-shm", "--max-client-shm-regions", "2"])
    m = regions(4096)
    key = key_of(m)
    reg_cases = [
        (dict(name="a", key=key, offset=4000, byte_size=200), SC.INVALID_ARGUMENT,
         "beyond the object's"),
        (dict(name="a", key="/inferd-test-no-such-object", byte_size=16), SC.INVALID_ARGUMENT,
         "cannot open"),
        (dict(name="a", key="no-slash", byte_size=16), SC.INVALID_ARGUMENT, "shm_open name"),
        (dict(name="a", key=key, byte_size=0), SC.INVALID_ARGUMENT, "byte_size must be > 0"),
    ]
    for kw, code, words in reg_cases:
        c, d = code_of(s.SystemSharedMemoryRegister, pb.SystemSharedMemoryRegisterRequest(**kw))
        assert c == code and words in d, (kw, c, d)
    c, d = code_of(s.SystemSharedMemoryUnregister,
                   pb.SystemSharedMemoryUnregisterRequest(name="nope"))
    assert c == SC.NOT_FOUND and "'nope'" in d
    register(s, "a", key, 1024)
    c, d = code_of(s.SystemSharedMemoryRegister, pb.SystemSharedMemoryRegisterRequest(
        name="a", key=key, byte_size=1024))
    assert c == SC.ALREADY_EXISTS and "already registered" in d
    register(s, "b", key, 1024)
    c, d = code_of(s.SystemSharedMemoryRegister, pb.SystemSharedMemoryRegisterRequest(
        name="c", key=key, byte_size=1024))
    assert c == SC.RESOURCE_EXHAUSTED and "limit of 2 regions" in d

    def only_region(req, where):
        p = req.inputs[0].parameters if where == "in" else req.outputs[0].parameters
        p["shared_memory_region"].string_param = "a"
        return req

    mixed = shm_request("ident", 4, "a", 16)
    mixed.raw_input_contents.append(b"\0" * 16)  # raw entry for an input in shared memory
    typed = shm_request("ident", 4, "a", 16)
    typed.inputs[0].contents.fp32_contents.extend([1, 2, 3, 4])
    wrong_type = shm_request("ident", 4, "a", 16)
    wrong_type.inputs[0].parameters["shared_memory_byte_size"].string_param = "16"
    infer_cases = [
        (shm_request("ident", 4, "a", 16, "b", 16, in_off=1020), "beyond its 1024 bytes"),
        (shm_request("ident", 4, "zz", 16, "b", 16), "no shared memory region 'zz'"),
        (shm_request("ident", 4, "a", 12, "b", 16), "need 16"),
        (shm_request("ident", 4, "a", 16, "b", 8), "more than the 8 of its"),
        (shm_request("ident", 4, "a", 16, "zz", 16), "no shared memory region 'zz'"),
        (only_region(pb.ModelInferRequest(model_name="ident", inputs=[pb.ModelInferRequest.
         InferInputTensor(name="INPUT0", datatype="FP32", shape=[1, 4])]), "in"), "needs both"),
        (mixed, "raw_input_contents has 1 entries"),
        (typed, "has contents while it names a shared_memory_region"),
        (wrong_type, "must be non-negative int64_param"),
    ]
    for req, words in infer_cases:
        c, d = code_of(s.ModelInfer, req)
        assert c == SC.INVALID_ARGUMENT and words in d, (req, c, d)
    # nothing is left holding a region: all unregister
    s.SystemSharedMemoryUnregister(pb.SystemSharedMemoryUnregisterRequest(), timeout=10)


def test_answered_request_holds_no_region(shm_node, regions):
    """Once ModelInfer has answered (OK or an error), the request holds no region: an HTTP
    unregister sent at once (served by another loop thread) succeeds."""
    n, s = shm_node()
    m = regions(4096)
    np.ndarray(4, np.float32, buffer=m.buf)[:] = [1, 2, 3, 4]
    for i in range(60):
        register(s, "a", key_of(m), 1024)
        register(s, "b", key_of(m), 1024, offset=2048)
        req = shm_request("ident", 4, "a", 16, "b", (16, 8)[i % 2])
        if i % 2:
            c, d = code_of(s.ModelInfer, req)
            assert c == SC.INVALID_ARGUMENT and "shared_memory_byte_size" in d, (i, c, d)
        else:
            assert len(s.ModelInfer(req, timeout=10).raw_output_contents) == 0
        status, res = n.post_json("/v2/systemsharedmemory/unregister", {})
        assert status == 200, (i, status, res)
