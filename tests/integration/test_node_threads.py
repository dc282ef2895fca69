# The whole node's threads at once: HTTP and gRPC loops, the scheduler, the completion thread,
# the supervisor and the live-stats publisher, driven together by concurrent clients from start
# to SIGTERM. Labelled "tsan" too (CMakeLists.txt): in the ThreadSanitizer build this is the one
# test that runs the real node binary, so a data race anywhere on those paths (halt_on_error=1
# in `make test-tsan`) ends the node and fails here, and the fixture fails on any sanitizer
# report in the node's log even when every request was answered.
import concurrent.futures
import http.client
import json
import signal

import numpy as np

import grpcstubs

pb, rpc = grpcstubs.load()
ROUNDS = 40  # per client: bounded, and quick even under TSan


def http_client(n, k):
    """One keep-alive connection: identity infers, /process, stats, in turn."""
    conn = http.client.HTTPConnection(n.host, n.port, timeout=60)
    try:
        for i in range(ROUNDS):
            data = [float(k), float(i), 0.5]
            body = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32",
                                           "shape": [1, 3], "data": data}]})
            conn.request("POST", "/v2/models/identity/infer", body=body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            out = json.loads(r.read())
            assert r.status == 200, out
            assert out["outputs"][0]["data"] == data
            msg = "c%d-%d" % (k, i)
            conn.request("POST", "/process", body=json.dumps({"message": msg}))
            r = conn.getresponse()
            got = json.loads(r.read())
            assert r.status == 200 and got["result"] == "WORKER_PROCESSED: " + msg[::-1].upper(), got
            if i % 10 == 0:
                conn.request("GET", "/v2/models/stats")
                r = conn.getresponse()
                assert r.status == 200 and json.loads(r.read())["model_stats"]
    finally:
        conn.close()
    return k


def grpc_client(n, k):
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        for i in range(ROUNDS // 2):
            x = np.full((1, 4), k * 1000 + i, np.float32)
            r = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x]), timeout=60)
            assert np.array_equal(grpcstubs.output_array(r, 0), x)
    return k


def test_every_thread_under_concurrent_traffic_then_sigterm(node):
    n = node()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        jobs = [pool.submit(http_client, n, k) for k in range(6)]
        jobs += [pool.submit(grpc_client, n, k) for k in range(2)]
        assert sorted(j.result(timeout=600) for j in jobs) == [0, 0, 1, 1, 2, 3, 4, 5]
    status, _, body = n.request("GET", "/metrics")
    assert status == 200 and b"inferd_request_stage_duration_seconds" in body
    assert n.stop(signal.SIGTERM) == 0, n.log_text()[-4000:]
    assert "shutdown complete" in n.log_text()
