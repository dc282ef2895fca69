# inferd-gateway's gRPC side (--grpc-port, --node-grpc-port) with python3-grpcio against two
# real nodes (on 127.0.0.2 and 127.0.0.3, sharing one gRPC port number) and against fake
# gRPC nodes (a grpcio server beside a FakeNode for HTTP health): infers answer right,
# metadata and errors pass through, the gateway answers its own health, a killed node's calls
# go to the other, the deadline is forwarded as the time left, UNAVAILABLE is retried on the
# other node, the routing key is forwarded, a short deadline is DEADLINE_EXCEEDED, /metrics.
import concurrent.futures
import os
import re
import signal
import socket
import struct
import threading
import time

import grpc
import numpy as np
import pytest

import grpcstubs
import promtext
from conftest import BUNDLED_MODELS, Node, free_port
from gwharness import FakeNode, Gateway

pb, rpc = grpcstubs.load()
SC = grpc.StatusCode


class GrpcGateway(Gateway):
    """A Gateway that also serves gRPC; grpc_target is its gRPC address."""

    def start(self, ready=True, timeout=30.0):
        super().start(ready=ready, timeout=timeout)
        m = re.search(r"listening on grpc port (\d+)", self.log_text())
        assert m, self.log_text()[-3000:]
        self.grpc_port = int(m.group(1))
        self.grpc_target = "127.0.0.1:%d" % self.grpc_port
        return self


@pytest.fixture
def cluster(tmp_path):
    """cluster(n) -> (gateway, [nodes]): n real nodes on 127.0.0.2.. with one gRPC port."""
    nodes, gws = [], []

    def start(n=2, node_args=(), gw_args=()):
        gport = free_port()
        for i in range(n):
            nd = Node(BUNDLED_MODELS, ["--grpc-port", str(gport)] + list(node_args),
                      str(tmp_path / ("inferd-%d.log" % i)))
            nd.host = "127.0.0.%d" % (i + 2)
            nodes.append(nd)
            nd.start()
        gw = GrpcGateway(["%s:%d" % (nd.host, nd.port) for nd in nodes],
                         str(tmp_path / "gateway.log"),
                         ["--grpc-port", "0", "--node-grpc-port", str(gport)] + list(gw_args))
        gws.append(gw)
        gw.start()
        gw.wait_nodes(lambda ns: all(x["ready"] for x in ns) and len(ns) == n)
        return gw, nodes

    yield start
    for g in gws:
        assert g.stop() == 0
    for nd in nodes:
        nd.stop()


def stub_of(target):
    ch = grpc.insecure_channel(target, options=[("grpc.enable_retries", 0)])
    return ch, rpc.GRPCInferenceServiceStub(ch)


def grpc_outcomes(gw):
    text = promtext.scrape(gw)
    promtext.promtool_check(text)
    fam = promtext.parse(text)
    return lambda code: promtext.value(fam, "inferd_gateway_grpc_requests_total", outcome=code)


def test_infer_metadata_and_errors_through_the_gateway(cluster):
    gw, nodes = cluster()
    ch, s = stub_of(gw.grpc_target)
    with ch:
        assert s.ServerLive(pb.ServerLiveRequest(), timeout=10).live
        assert s.ServerReady(pb.ServerReadyRequest(), timeout=10).ready
        for i in range(20):
            x = np.arange(3 * (i + 1), dtype=np.float32).reshape(3, i + 1) * (i - 7.5)
            resp = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x], rid="r%d" % i),
                                timeout=10)
            assert resp.id == "r%d" % i and resp.model_name == "identity"
            assert np.array_equal(grpcstubs.output_array(resp, 0), x)
        # BYTES through the reverse model
        resp = s.ModelInfer(grpcstubs.infer_request(
            pb, "reverse", [np.array([[b"hello", b"gateway"]], dtype=object)]), timeout=10)
        assert grpcstubs.bytes_elements(resp.raw_output_contents[0]) == [
            b"WORKER_PROCESSED: OLLEH", b"WORKER_PROCESSED: YAWETAG"]
        md = s.ModelMetadata(pb.ModelMetadataRequest(name="identity"), timeout=10)
        assert md.name == "identity" and list(md.versions) == ["1"]
        assert s.ModelConfig(pb.ModelConfigRequest(name="reverse"), timeout=10).config.name \
            == "reverse"
        assert s.ModelReady(pb.ModelReadyRequest(name="identity"), timeout=10).ready
        assert s.ServerMetadata(pb.ServerMetadataRequest(), timeout=10).name == "inferd"
        idx = s.RepositoryIndex(pb.RepositoryIndexRequest(ready=True), timeout=10)
        assert {"identity", "reverse"} <= {m.name for m in idx.models}
        # the node's errors pass through with their message
        with pytest.raises(grpc.RpcError) as e:
            s.ModelMetadata(pb.ModelMetadataRequest(name="nosuchmodel"), timeout=10)
        assert e.value.code() == SC.NOT_FOUND and "nosuchmodel" in e.value.details()
        bad = grpcstubs.infer_request(pb, "identity", [np.zeros((1, 2), np.float32)])
        bad.inputs[0].datatype = "INT64"
        with pytest.raises(grpc.RpcError) as e:
            s.ModelInfer(bad, timeout=10)
        assert e.value.code() == SC.INVALID_ARGUMENT
        # a stream: answers matched by id, the stream ends OK
        reqs = [grpcstubs.infer_request(pb, "identity", [np.full((1, 4), k, np.float32)],
                                        rid="s%d" % k) for k in range(10)]
        got = {}
        for r in s.ModelStreamInfer(iter(reqs), timeout=20):
            assert not r.error_message, r.error_message
            got[r.infer_response.id] = grpcstubs.output_array(r.infer_response, 0)
        assert sorted(got) == sorted("s%d" % k for k in range(10))
        for k in range(10):
            assert np.array_equal(got["s%d" % k], np.full((1, 4), k, np.float32))
    outcome = grpc_outcomes(gw)
    assert outcome("OK") >= 29
    assert outcome("NOT_FOUND") == 1 and outcome("INVALID_ARGUMENT") == 1
    # the gateway's own routes still answer, and the HTTP side is untouched
    assert gw.request("GET", "/v2/health/ready")[0] == 200


def test_stream_and_metadata_calls_are_not_latency_samples(cluster):
    """A ModelStreamInfer stream lives as long as its client keeps it: its duration is not the
    node's inference latency (which sets routing weights and the hedge time), nor are the
    microseconds of metadata calls."""
    gw, nodes = cluster(n=1)
    ch, s = stub_of(gw.grpc_target)
    with ch:
        for _ in range(30):
            s.ModelMetadata(pb.ModelMetadataRequest(name="identity"), timeout=10)
        assert gw.nodes_json()[0]["latency_ms"] == {"p50": 0, "p99": 0}   # no samples yet
        for _ in range(30):     # a quantile needs 20 samples
            s.ModelInfer(grpcstubs.infer_request(pb, "identity", [np.ones((1, 4), np.float32)]),
                         timeout=10)
        answered, hold = threading.Event(), 2.0

        def messages():
            yield grpcstubs.infer_request(pb, "identity", [np.ones((1, 4), np.float32)])
            assert answered.wait(20)
            time.sleep(hold)          # the client keeps its stream open, idle

        t0 = time.monotonic()
        for r in s.ModelStreamInfer(messages(), timeout=30):
            assert not r.error_message, r.error_message
            answered.set()
        assert time.monotonic() - t0 >= hold
    nd = gw.wait_nodes(lambda ns: ns[0]["in_flight"] == 0)[0]
    assert nd["requests"] >= 61                 # every call went through the node ...
    assert 0 < nd["latency_ms"]["p99"] < hold * 1000 / 2, nd   # ... the infers are the samples


def test_same_key_same_node_and_killed_node(cluster):
    # no hedging: a copy of a slow call would land on the other node
    gw, nodes = cluster(gw_args=["--hedge-percent", "0"])
    ch, s = stub_of(gw.grpc_target)
    with ch:
        req = grpcstubs.infer_request(pb, "identity", [np.ones((1, 3), np.float32)])
        for i in range(60):
            assert s.ModelInfer(req, timeout=10).model_name == "identity"
        # one identical request always lands on one node (its model statistics count it)
        counts = []
        for nd in nodes:
            st = nd.get_json("/v2/models/identity/stats")[1]
            counts.append(st["model_stats"][0]["inference_stats"]["success"]["count"])
        assert sorted(counts) == [0, 60], counts
        nodes[0].stop(sig=signal.SIGKILL)
        errors = []
        for i in range(100):
            x = np.full((1, 3), i, np.float32)
            try:
                r = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x]), timeout=10)
                assert np.array_equal(grpcstubs.output_array(r, 0), x)
            except grpc.RpcError as e:
                errors.append((i, e.code(), e.details()))
        assert errors == []
        gone = "%s:%d" % (nodes[0].host, nodes[0].port)
        gw.wait_nodes(lambda ns: any(x["address"] == gone and not x["ready"] for x in ns))


def test_draining_node_goaway_calls_move_on(cluster):
    """SIGTERM on a node while calls flow: its GOAWAY retires the gateway's connection,
    calls refused or unable to connect go to the other node; none fails."""
    gw, nodes = cluster()
    stop = threading.Event()
    errors, done = [], [0]

    def client(k):
        ch, s = stub_of(gw.grpc_target)
        with ch:
            i = 0
            while not stop.is_set():
                x = np.full((1, 2), k * 100000 + i, np.float32)
                try:
                    r = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x]), timeout=20)
                    assert np.array_equal(grpcstubs.output_array(r, 0), x)
                    done[0] += 1
                except grpc.RpcError as e:
                    errors.append((e.code(), e.details()))
                i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 20
        while done[0] < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        nodes[0].stop(sig=signal.SIGTERM)
        before = done[0]
        while done[0] < before + 100 and time.monotonic() < deadline + 20:
            time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert errors == []
    assert done[0] >= before + 100


def test_hung_node_calls_move_on(cluster):
    """SIGSTOP on a node: calls waiting on it move to the other node once its checks fail,
    and every call is answered right."""
    # every call may move (the retry budget, 20% of active calls by default, would refuse
    # most of these 20 at once)
    gw, nodes = cluster(gw_args=["--health-interval-ms", "200", "--health-timeout-ms", "200",
                                 "--retry-budget-percent", "100"])
    ch, s = stub_of(gw.grpc_target)
    try:
        with ch:
            os.kill(nodes[0].proc.pid, signal.SIGSTOP)
            xs = [np.full((1, 2), i, np.float32) for i in range(20)]
            futs = [s.ModelInfer.future(grpcstubs.infer_request(pb, "identity", [x]), timeout=20)
                    for x in xs]
            for x, f in zip(xs, futs):
                assert np.array_equal(grpcstubs.output_array(f.result(), 0), x)
    finally:
        os.kill(nodes[0].proc.pid, signal.SIGCONT)


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def hpack_literal(name, value):
    """A header as an HPACK literal without indexing, new name, no Huffman (short only)."""
    name, value = name.encode(), value.encode()
    return bytes([0, len(name)]) + name + bytes([len(value)]) + value


def raw_infer(target, msg, grpc_timeout):
    """A ModelInfer sent by hand with a grpc-timeout the client itself never enforces (grpcio
    would cancel at its deadline first); returns once the answer ended its stream."""
    host, port = target.rsplit(":", 1)
    headers = b"".join(hpack_literal(k, v) for k, v in [
        (":method", "POST"), (":scheme", "http"),
        (":path", "/inference.GRPCInferenceService/ModelInfer"), (":authority", "gw"),
        ("content-type", "application/grpc"), ("te", "trailers"),
        ("grpc-timeout", grpc_timeout)])
    body = b"\0" + struct.pack(">I", len(msg)) + msg
    with socket.create_connection((host, int(port)), timeout=20) as sk:
        sk.sendall(PREFACE + frame(4, 0, 0) + frame(1, 0x4, 1, headers) + frame(0, 0x1, 1, body))
        buf = b""
        while True:
            while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
                chunk = sk.recv(65536)
                assert chunk, "the gateway closed the connection"
                buf += chunk
            n = int.from_bytes(buf[:3], "big")
            ftype, flags, stream = buf[3], buf[4], int.from_bytes(buf[5:9], "big")
            buf = buf[9 + n:]
            if ftype == 1 and stream == 1 and flags & 1:
                return


def test_deadline_exceeded_at_once_and_while_waiting(cluster):
    gw, nodes = cluster()
    req = grpcstubs.infer_request(pb, "delay", [np.zeros((1, 1), np.float32)])
    msg = req.SerializeToString()

    def delay_count():
        return sum(nd.get_json("/v2/models/delay/stats")[1]["model_stats"][0]
                   ["inference_stats"]["success"]["count"] for nd in nodes)
    # no time left at arrival: DEADLINE_EXCEEDED at once, no node asked
    raw_infer(gw.grpc_target, msg, "1n")
    assert grpc_outcomes(gw)("DEADLINE_EXCEEDED") == 1
    # 300 ms against the delay model's 1 s: the gateway's own timer answers (the client
    # here never cancels), the node's call is reset
    raw_infer(gw.grpc_target, msg, "300m")
    assert grpc_outcomes(gw)("DEADLINE_EXCEEDED") == 2
    ch, s = stub_of(gw.grpc_target)
    with ch:
        # grpcio's own short deadline: the client's DEADLINE_EXCEEDED
        with pytest.raises(grpc.RpcError) as e:
            s.ModelInfer(req, timeout=0.3)
        assert e.value.code() == SC.DEADLINE_EXCEEDED
        # with time enough it answers
        assert s.ModelInfer(req, timeout=20).model_name == "delay"
        # a client that cancels: the gateway counts it and keeps serving
        fut = s.ModelInfer.future(req, timeout=20)
        time.sleep(0.2)  # not synchronisation: only lets the call reach the gateway
        fut.cancel()
        assert s.ServerLive(pb.ServerLiveRequest(), timeout=10).live
    # grpcio's deadline ends as the gateway's DEADLINE_EXCEEDED or the client's reset
    # (CANCELLED), whichever the gateway sees first; its cancel is CANCELLED
    def ended(outcome):
        return outcome("DEADLINE_EXCEEDED") + outcome("CANCELLED") == 4 and \
            outcome("CANCELLED") >= 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not ended(grpc_outcomes(gw)):
        time.sleep(0.05)
    assert ended(grpc_outcomes(gw))
    assert delay_count() >= 1


class FakeGrpcNode:
    """A gRPC node stand-in: a grpcio server on host:port whose ModelInfer calls
    behave(context) -> None (answer) or a status to abort with; it records each call's
    time_remaining() and metadata. Beside it a FakeNode answers the HTTP health checks."""

    def __init__(self, host, port, behave):
        self.host, self.port, self.behave = host, port, behave
        self.calls = []
        self.lock = threading.Lock()
        self.http = FakeNode(models=("identity",), host=host).start()
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=8))
        fake = self

        class Servicer(rpc.GRPCInferenceServiceServicer):
            def ModelInfer(self, request, context):
                with fake.lock:
                    fake.calls.append((context.time_remaining(),
                                       dict(context.invocation_metadata())))
                code = fake.behave(context)
                if code is not None:
                    context.abort(code, "fake says %s" % code.name)
                return pb.ModelInferResponse(model_name=request.model_name, id=fake.host)

        rpc.add_GRPCInferenceServiceServicer_to_server(Servicer(), self.server)
        assert self.server.add_insecure_port("%s:%d" % (host, port)) == port
        self.server.start()

    def stop(self):
        self.server.stop(0)
        self.http.stop()


def test_deadline_forwarded_as_time_left_and_unavailable_retried(tmp_path):
    port = free_port()
    failed = threading.Event()

    def behave(context):
        if not failed.is_set():  # the first call anywhere: slow, then UNAVAILABLE
            failed.set()
            time.sleep(0.5)
            return SC.UNAVAILABLE
        return None

    fakes = [FakeGrpcNode("127.0.0.%d" % (i + 2), port, behave) for i in range(2)]
    gw = GrpcGateway([f.http.address for f in fakes], str(tmp_path / "gateway.log"),
                     ["--grpc-port", "0", "--node-grpc-port", str(port),
                      "--retry-budget-percent", "100"])
    try:
        gw.start()
        gw.wait_nodes(lambda ns: all(x["ready"] for x in ns))
        ch, s = stub_of(gw.grpc_target)
        with ch:
            req = grpcstubs.infer_request(pb, "identity", [np.ones((1, 3), np.float32)])
            resp, call = s.ModelInfer.with_call(req, timeout=10,
                                                metadata=[("inferd-routing-key", "user-42")])
        calls = fakes[0].calls + fakes[1].calls
        assert len(calls) == 2, calls
        assert resp.id in ("127.0.0.2", "127.0.0.3")
        answered = [f for f in fakes if f.host == resp.id][0]
        remaining, md = answered.calls[-1]
        # sent with 10 s; the retry went after the first node's 0.5 s: at most ~9.5 s left
        assert 5.0 < remaining < 9.6, remaining
        assert md.get("inferd-routing-key") == "user-42"
        first = [f for f in fakes if f is not answered][0]
        assert len(first.calls) == 1 and first.calls[0][0] > 9.0
        outcome = grpc_outcomes(gw)
        assert outcome("OK") == 1 and outcome("UNAVAILABLE") == 0
        # every node busy: UNAVAILABLE, the last node's own status passed on
        for f in fakes:
            f.behave = lambda context: SC.UNAVAILABLE
        ch, s = stub_of(gw.grpc_target)
        with ch:
            with pytest.raises(grpc.RpcError) as e:
                s.ModelInfer(req, timeout=10)
        assert e.value.code() == SC.UNAVAILABLE and "fake says" in e.value.details()
    finally:
        assert gw.stop() == 0
        for f in fakes:
            f.stop()


def test_flags_go_together(tmp_path):
    import subprocess
    from conftest import bin_path
    r = subprocess.run([bin_path("inferd-gateway"), "--http-port", "0", "--node",
                        "127.0.0.1:1", "--grpc-port", "0"], capture_output=True, timeout=10)
    assert r.returncode == 2 and b"--node-grpc-port" in r.stderr
