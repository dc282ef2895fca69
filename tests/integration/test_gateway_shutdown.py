# inferd-gateway's shutdown with requests that never finish, on both fronts (HTTP and gRPC):
# SIGTERM drains for one --drain-timeout-ms in all, not one per front (the HTTP drain and
# the gRPC drain share the deadline), then closes what is left and exits 0.
import signal
import threading
import time

import grpc

import grpcstubs
from conftest import free_port
from gwharness import Gateway
from test_gateway_grpc import FakeGrpcNode, GrpcGateway

pb, rpc = grpcstubs.load()

DRAIN_MS = 4000


def test_one_drain_for_http_and_grpc(tmp_path):
    release = threading.Event()
    port = free_port()
    fake = FakeGrpcNode("127.0.0.2", port, lambda ctx: release.wait(timeout=60) and None)
    fake.http.handler = lambda *a: (release.wait(timeout=60), (200, b"{}"))[1]
    gw = GrpcGateway([fake.http.address], str(tmp_path / "gw.log"),
                     ["--grpc-port", "0", "--node-grpc-port", str(port),
                      "--drain-timeout-ms", str(DRAIN_MS)])
    outcomes = {}
    try:
        gw.start()
        gw.wait_nodes(lambda ns: all(x["ready"] and x["models"] for x in ns))

        def http_call():
            try:
                outcomes["http"] = gw.request("POST", "/process", body=b"held", timeout=60)[0]
            except OSError as e:
                outcomes["http"] = e

        def grpc_call():
            ch = grpc.insecure_channel(gw.grpc_target, options=[("grpc.enable_retries", 0)])
            try:
                rpc.GRPCInferenceServiceStub(ch).ModelInfer(
                    pb.ModelInferRequest(model_name="identity"), timeout=60)
                outcomes["grpc"] = "OK"
            except grpc.RpcError as e:
                outcomes["grpc"] = e.code()
            finally:
                ch.close()

        threads = [threading.Thread(target=f, daemon=True) for f in (http_call, grpc_call)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while (len(fake.calls) < 1 or len(fake.http.routed()) < 1) and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(fake.calls) == 1 and len(fake.http.routed()) == 1
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        assert gw.proc.wait(timeout=30) == 0
        took = time.monotonic() - t0
        # one drain (4 s) and the close that follows it; two drains would take 8 s or more
        assert DRAIN_MS / 1000 - 0.1 <= took < 2 * DRAIN_MS / 1000 - 0.2, took
        for t in threads:
            t.join(timeout=30)
        assert outcomes["grpc"] != "OK" and outcomes["http"] != 200, outcomes
    finally:
        release.set()
        gw.stop()
        fake.stop()
