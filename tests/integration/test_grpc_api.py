# gRPC (inference.GRPCInferenceService) driven by python3-grpcio with stubs generated from the
# project's proto: every RPC, raw and typed tensor contents, and every error code the node
# answers (INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED,
# UNIMPLEMENTED, CANCELLED; INTERNAL has no trigger a client can pull, see docs/grpc-api.md).
import concurrent.futures
import time

import grpc
import numpy as np
import pytest

import grpcstubs

pb, rpc = grpcstubs.load()
SC = grpc.StatusCode


@pytest.fixture
def g(node):
    n = node()
    with grpcstubs.channel(n) as ch:
        yield n, rpc.GRPCInferenceServiceStub(ch), ch


def code_of(fn, *args, **kw):
    with pytest.raises(grpc.RpcError) as e:
        fn(*args, timeout=kw.pop("timeout", 10), **kw)
    return e.value.code(), e.value.details()


def test_health_and_server_metadata(g):
    _, s, _ = g
    assert s.ServerLive(pb.ServerLiveRequest(), timeout=10).live
    assert s.ServerReady(pb.ServerReadyRequest(), timeout=10).ready
    md = s.ServerMetadata(pb.ServerMetadataRequest(), timeout=10)
    assert md.name == "inferd" and md.version
    assert s.ModelReady(pb.ModelReadyRequest(name="identity"), timeout=10).ready
    assert s.ModelReady(pb.ModelReadyRequest(name="identity", version="1"), timeout=10).ready
    c, d = code_of(s.ModelReady, pb.ModelReadyRequest(name="nope"))
    assert c == SC.NOT_FOUND and "nope" in d
    c, d = code_of(s.ModelReady, pb.ModelReadyRequest(name="identity", version="7"))
    assert c == SC.NOT_FOUND and "version" in d


def test_model_metadata_and_config(g):
    _, s, _ = g
    md = s.ModelMetadata(pb.ModelMetadataRequest(name="identity"), timeout=10)
    assert md.name == "identity" and list(md.versions) == ["1"]
    assert [(t.name, t.datatype, list(t.shape)) for t in md.inputs] == [("INPUT0", "FP32", [-1, -1])]
    assert [t.name for t in md.outputs] == ["OUTPUT0"]
    cfg = s.ModelConfig(pb.ModelConfigRequest(name="reverse"), timeout=10).config
    assert cfg.name == "reverse" and cfg.backend == "reverse" and cfg.max_batch_size == 64
    assert cfg.input[0].name == "INPUT0" and list(cfg.input[0].dims) == [-1]
    assert cfg.input[0].data_type == 13  # TYPE_STRING, Triton's name for BYTES
    assert cfg.output[0].data_type == 13
    assert cfg.HasField("dynamic_batching")
    assert cfg.dynamic_batching.default_queue_policy.max_queue_size == 4096
    assert cfg.instance_group[0].count >= 1 and cfg.instance_group[0].kind == 2  # KIND_CPU
    assert cfg.version_policy.latest.num_versions == 1
    assert "workers_max" in cfg.parameters
    assert code_of(s.ModelConfig, pb.ModelConfigRequest(name="zz"))[0] == SC.NOT_FOUND


def test_infer_raw_and_typed(g):
    _, s, _ = g
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    resp = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x], rid="r-1"), timeout=10)
    assert resp.id == "r-1" and resp.model_name == "identity" and resp.model_version == "1"
    assert resp.outputs[0].name == "OUTPUT0" and resp.outputs[0].datatype == "FP32"
    assert np.array_equal(grpcstubs.output_array(resp, 0), x)
    resp = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x], typed=True), timeout=10)
    assert np.array_equal(grpcstubs.output_array(resp, 0), x)
    # requested outputs by name
    req = grpcstubs.infer_request(pb, "identity", [x], outputs=["OUTPUT0"])
    assert len(s.ModelInfer(req, timeout=10).outputs) == 1


def test_infer_bytes(g):
    _, s, _ = g
    words = np.array([[b"hello", b"", b"gRPC"]], dtype=object)
    for typed in (False, True):
        resp = s.ModelInfer(grpcstubs.infer_request(pb, "reverse", [words], typed=typed),
                            timeout=10)
        assert resp.outputs[0].datatype == "BYTES"
        got = grpcstubs.bytes_elements(resp.raw_output_contents[0])
        assert got == [b"WORKER_PROCESSED: OLLEH", b"WORKER_PROCESSED: ", b"WORKER_PROCESSED: CPRG"]


@pytest.mark.parametrize("mutate, needle", [
    (lambda r: r.inputs[0].__setattr__("datatype", "INT32"), "datatype"),
    (lambda r: r.inputs[0].__setattr__("name", "NOPE"), "no input"),
    (lambda r: r.raw_input_contents.__setitem__(0, b"\0" * 7), "bytes"),
    (lambda r: r.inputs[0].shape.__setitem__(0, 65), "batch size"),
    (lambda r: r.inputs[0].shape.append(2), "dimensions"),
    (lambda r: r.inputs[0].contents.fp32_contents.append(1.0), "raw_input_contents"),
    (lambda r: r.outputs.add(name="NOPE"), "no output"),
    (lambda r: r.parameters["priority"].__setattr__("string_param", "high"), "priority"),
])
def test_infer_invalid_argument(g, mutate, needle):
    _, s, _ = g
    req = grpcstubs.infer_request(pb, "identity", [np.zeros((1, 4), np.float32)])
    mutate(req)
    c, d = code_of(s.ModelInfer, req)
    assert c == SC.INVALID_ARGUMENT, d
    assert needle in d


def test_infer_missing_input_and_bad_bytes(g):
    _, s, _ = g
    c, d = code_of(s.ModelInfer, pb.ModelInferRequest(model_name="identity"))
    assert c == SC.INVALID_ARGUMENT and "takes 1 input" in d
    req = grpcstubs.infer_request(pb, "reverse", [np.array([[b"abc"]], dtype=object)])
    req.raw_input_contents[0] = (100).to_bytes(4, "little") + b"abc"  # element overruns
    c, d = code_of(s.ModelInfer, req)
    assert c == SC.INVALID_ARGUMENT and "runs past the end" in d


def test_not_found_and_unimplemented(g):
    _, s, ch = g
    c, d = code_of(s.ModelInfer, grpcstubs.infer_request(pb, "nope", [np.zeros((1, 1), np.float32)]))
    assert c == SC.NOT_FOUND and "unknown model 'nope'" in d
    req = grpcstubs.infer_request(pb, "identity", [np.zeros((1, 1), np.float32)])
    req.model_version = "3"
    assert code_of(s.ModelInfer, req)[0] == SC.NOT_FOUND
    bogus = ch.unary_unary("/inference.GRPCInferenceService/NoSuchRpc")
    c, d = code_of(bogus, b"")
    assert c == SC.UNIMPLEMENTED and "NoSuchRpc" in d
    c, _ = code_of(s.CudaSharedMemoryStatus, pb.CudaSharedMemoryStatusRequest())
    assert c == SC.UNIMPLEMENTED
    c, _ = code_of(s.Trace, pb.TraceRequest())
    assert c == SC.UNIMPLEMENTED


def test_repository_index(g):
    _, s, _ = g
    idx = s.RepositoryIndex(pb.RepositoryIndexRequest(), timeout=10)
    states = {m.name: (m.state, m.version) for m in idx.models}
    assert states.get("identity") == ("READY", "1") and states.get("reverse")[0] == "READY"
    ready = s.RepositoryIndex(pb.RepositoryIndexRequest(ready=True), timeout=10)
    assert ready.models and all(m.state == "READY" for m in ready.models)
    # --model-control-mode none (the default): no load or unload through the API
    c, d = code_of(s.RepositoryModelLoad, pb.RepositoryModelLoadRequest(model_name="identity"))
    assert c == SC.INVALID_ARGUMENT, d
    # client shared memory: test_grpc_client_shm.py


def test_repository_load_and_unload(node):
    n = node(args=["--model-control-mode", "explicit", "--load-model", "identity"])
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        x = np.ones((1, 2), np.float32)
        states = {m.name: m.state for m in s.RepositoryIndex(pb.RepositoryIndexRequest(),
                                                              timeout=10).models}
        assert states["identity"] == "READY" and states["reverse"] == "UNAVAILABLE"
        assert not s.ModelReady(pb.ModelReadyRequest(name="reverse"), timeout=10).ready
        s.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="reverse"), timeout=60)
        assert s.ModelReady(pb.ModelReadyRequest(name="reverse"), timeout=10).ready
        s.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="identity"),
                                timeout=60)
        c, _ = code_of(s.ModelInfer, grpcstubs.infer_request(pb, "identity", [x]))
        assert c == SC.NOT_FOUND
        c, _ = code_of(s.RepositoryModelLoad, pb.RepositoryModelLoadRequest(model_name="zzz"),
                       timeout=60)
        assert c == SC.NOT_FOUND
        # a config override (Triton's "config" parameter): a smaller max_batch_size
        req = pb.RepositoryModelLoadRequest(model_name="identity")
        req.parameters["config"].string_param = (
            '{"backend": "identity", "max_batch_size": 2, "inputs": [{"name": "INPUT0", '
            '"datatype": "FP32", "dims": [-1]}], "outputs": [{"name": "OUTPUT0", '
            '"datatype": "FP32", "dims": [-1]}]}')
        s.RepositoryModelLoad(req, timeout=60)
        cfg = s.ModelConfig(pb.ModelConfigRequest(name="identity"), timeout=10).config
        assert cfg.max_batch_size == 2
        r = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x]), timeout=10)
        assert np.array_equal(grpcstubs.output_array(r, 0), x)


def test_statistics(g):
    _, s, _ = g
    for _ in range(3):
        s.ModelInfer(grpcstubs.infer_request(pb, "identity", [np.ones((2, 2), np.float32)]),
                     timeout=10)
    st = s.ModelStatistics(pb.ModelStatisticsRequest(name="identity"), timeout=10)
    assert len(st.model_stats) == 1
    m = st.model_stats[0]
    assert m.name == "identity" and m.version == "1"
    assert m.inference_stats.success.count >= 3 and m.inference_stats.success.ns > 0
    assert m.inference_count >= 6 and m.execution_count >= 1
    assert m.inference_stats.compute_infer.count == m.execution_count
    assert m.inference_stats.compute_input.count == m.execution_count
    assert m.inference_stats.cache_hit.count == 0 and m.inference_stats.cache_miss.count == 0
    assert abs(m.last_inference - time.time() * 1000) < 600000
    every = s.ModelStatistics(pb.ModelStatisticsRequest(), timeout=10)
    assert {"identity", "reverse"} <= {x.name for x in every.model_stats}
    assert code_of(s.ModelStatistics, pb.ModelStatisticsRequest(name="q"))[0] == SC.NOT_FOUND


def delay_repo(model_repo, **extra):
    cfg = {"backend": "delay", "max_batch_size": 8, "delay_ms": 0,
           "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
           "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}],
           "workers": {"min": 1, "max": 1}, "dynamic_batching": {"max_queue_delay_us": 0}}
    cfg.update(extra)
    return model_repo({"slow": cfg})


def slow_request(delay_ms, **params):
    return grpcstubs.infer_request(pb, "slow", [np.zeros((1, 1), np.float32)],
                                   params=dict(delay_ms=delay_ms, **params))


def wait_stat(n, pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, st = n.get_json("/v2/models/slow/stats")
        if pred(st["model_stats"][0]["inferd"]):
            return
        time.sleep(0.02)
    pytest.fail("stats condition not reached in %.0fs" % timeout)


def test_resource_exhausted_queue_full(node, model_repo):
    # one batch in flight node-wide and one request queued: the rest are refused
    n = node(repo=delay_repo(model_repo, max_queue_size=1), args=["--batch-slots", "1"])
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        futs = [s.ModelInfer.future(slow_request(600), timeout=30) for _ in range(6)]
        codes = []
        for f in futs:
            try:
                f.result()
                codes.append(SC.OK)
            except grpc.RpcError as e:
                codes.append(e.code())
                if e.code() == SC.RESOURCE_EXHAUSTED:
                    assert "queue" in e.details()
        assert SC.RESOURCE_EXHAUSTED in codes and SC.OK in codes, codes


def test_resource_exhausted_message_too_large(node):
    n = node(args=["--grpc-max-message-bytes", "65536"])
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        big = np.zeros((1, 32768), np.float32)  # 128 KiB
        c, d = code_of(s.ModelInfer, grpcstubs.infer_request(pb, "identity", [big]))
        assert c == SC.RESOURCE_EXHAUSTED and "exceeds the limit" in d
        small = np.zeros((1, 16), np.float32)
        assert s.ModelInfer(grpcstubs.infer_request(pb, "identity", [small]), timeout=10).outputs


def test_resource_exhausted_inflight_bytes(node):
    # messages may be 1 MiB, but the node holds at most 64 KiB of partial requests at once
    n = node(args=["--grpc-max-message-bytes", "1048576", "--max-inflight-bytes", "65536"])
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        big = np.zeros((1, 32768), np.float32)  # 128 KiB
        c, d = code_of(s.ModelInfer, grpcstubs.infer_request(pb, "identity", [big]))
        assert c == SC.RESOURCE_EXHAUSTED and "too many request bytes" in d
        small = np.zeros((1, 16), np.float32)
        for _ in range(3):  # the budget was given back
            assert s.ModelInfer(grpcstubs.infer_request(pb, "identity", [small]), timeout=10)


def test_inflight_bytes_given_back_before_the_answer(node):
    # A message of the whole budget, answered, then at once another on a new connection: its
    # bytes were given back before the answer was sent, so each fits (one loop: the budget
    # is split among the loops).
    big = np.zeros((1, 65536), np.float32)  # 256 KiB
    req = grpcstubs.infer_request(pb, "identity", [big])
    size = req.ByteSize()
    n = node(args=["--threads", "1", "--grpc-max-message-bytes", str(size),
                   "--max-inflight-bytes", str(size)])
    for i in range(50):
        with grpcstubs.channel(n) as ch:
            s = rpc.GRPCInferenceServiceStub(ch)
            try:
                assert s.ModelInfer(req, timeout=30).outputs
            except grpc.RpcError as e:
                pytest.fail("round %d: %s: %s" % (i, e.code(), e.details()))


def test_deadline_exceeded(node, model_repo):
    # one batch in flight node-wide: a second request waits in the node's queue
    n = node(repo=delay_repo(model_repo), args=["--batch-slots", "1"])
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        busy = s.ModelInfer.future(slow_request(1500), timeout=30)
        wait_stat(n, lambda st: st["batches_in_flight"] == 1)
        # The server's own deadline (parameters.timeout, µs) on a request stuck behind it:
        # answered DEADLINE_EXCEEDED by the node, not by the client's clock.
        c, d = code_of(s.ModelInfer, slow_request(0, timeout=200000), timeout=30)
        assert c == SC.DEADLINE_EXCEEDED, d
        # grpc-timeout becomes the request's deadline too
        with pytest.raises(grpc.RpcError) as e:
            s.ModelInfer(slow_request(0), timeout=0.3)
        assert e.value.code() == SC.DEADLINE_EXCEEDED
        busy.result()


def test_unavailable_without_workers(node, model_repo):
    n = node(repo=delay_repo(model_repo), args=["--worker-path", "/bin/false"], ready=False)
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        assert not s.ServerReady(pb.ServerReadyRequest(), timeout=10).ready
        assert not s.ModelReady(pb.ModelReadyRequest(name="slow"), timeout=10).ready
        c, d = code_of(s.ModelInfer, slow_request(0), timeout=30)
        assert c in (SC.UNAVAILABLE, SC.DEADLINE_EXCEEDED), (c, d)


def test_cancel_takes_the_request_out_of_the_queue(node, model_repo):
    n = node(repo=delay_repo(model_repo), args=["--batch-slots", "1"])
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        busy = s.ModelInfer.future(slow_request(1000), timeout=30)
        wait_stat(n, lambda st: st["batches_in_flight"] == 1)
        queued = s.ModelInfer.future(slow_request(0), timeout=30)
        wait_stat(n, lambda st: st["queue_len"] >= 1)  # the second waits behind the first
        queued.cancel()
        deadline = time.monotonic() + 10
        cancelled = 0
        while time.monotonic() < deadline and not cancelled:
            _, st = n.get_json("/v2/models/slow/stats")
            cancelled = st["model_stats"][0]["inferd"]["cancelled"]
            time.sleep(0.05)
        assert cancelled == 1
        busy.result()
        assert s.ModelInfer(slow_request(0), timeout=10).outputs  # the node goes on


def test_concurrent_unary_calls(g):
    _, s, _ = g
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        resps = list(ex.map(lambda i: s.ModelInfer(
            grpcstubs.infer_request(pb, "identity", [x + i], rid=str(i)), timeout=30), range(200)))
    for i, r in enumerate(resps):
        assert r.id == str(i) and np.array_equal(grpcstubs.output_array(r, 0), x + i)
