# inferd-gateway's gRPC side, what makes it a node to its clients (docs/gateway.md, gRPC):
# custom metadata both ways (request metadata to the node, the node's headers and trailers
# back) with bounds; hedging of unary calls (a hung node's calls answered by a second copy
# long before the node is marked down; the losing copy reset, so its node drops it); the
# gRPC connection gauge in /metrics. python3-grpcio clients, real nodes and fake ones.
import os
import signal
import threading
import time

import grpc
import numpy as np
import pytest

import grpcstubs
import promtext
from test_gateway_grpc import FakeGrpcNode, GrpcGateway, cluster, stub_of  # noqa: F401
from conftest import free_port

pb, rpc = grpcstubs.load()
SC = grpc.StatusCode


@pytest.fixture
def fakes(tmp_path):
    """fakes(behave, n=2, gw_args=()) -> (gateway, [FakeGrpcNode])."""
    made, gws = [], []

    def start(behave, n=2, gw_args=()):
        port = free_port()
        fs = [FakeGrpcNode("127.0.0.%d" % (i + 2), port, behave) for i in range(n)]
        made.extend(fs)
        gw = GrpcGateway([f.http.address for f in fs], str(tmp_path / "gateway.log"),
                         ["--grpc-port", "0", "--node-grpc-port", str(port)] + list(gw_args))
        gws.append(gw)
        gw.start()
        gw.wait_nodes(lambda ns: len(ns) == n and all(x["ready"] and x["models"] is not None
                                                     for x in ns))
        return gw, fs

    yield start
    for g in gws:
        assert g.stop() == 0
    for f in made:
        f.stop()


def prime(call, n):
    """n calls, then more for 0.3 s: a pick reads a node's p95 (the hedge time) from a cache
    refreshed at most every 100 ms (gw_nodes_health.c), which a burst of fast calls may have
    filled before the estimate had its 20 samples."""
    for i in range(n):
        call(i)
    end, i = time.monotonic() + 0.3, n
    while time.monotonic() < end:
        call(i)
        i += 1


def identity_request(v=1.0):
    return grpcstubs.infer_request(pb, "identity", [np.full((1, 3), v, np.float32)])


def test_metadata_both_ways(fakes):
    def behave(context):
        md = dict(context.invocation_metadata())
        context.send_initial_metadata((("x-node-head", "h-" + md.get("x-client", "?")),
                                       ("x-head-bin", b"\x00\xfe")))
        context.set_trailing_metadata((("x-node-trail", "t1"), ("x-trail-bin", b"\xff\x01")))
        if md.get("x-fail") == "yes":
            return SC.NOT_FOUND
        return None

    gw, fs = fakes(behave)
    ch, s = stub_of(gw.grpc_target)
    with ch:
        resp, call = s.ModelInfer.with_call(
            identity_request(), timeout=10,
            metadata=[("x-client", "abc"), ("x-blob-bin", b"\x00\x01\xff"),
                      ("inferd-routing-key", "user-7")])
        head = dict(call.initial_metadata())
        trail = dict(call.trailing_metadata())
        assert head["x-node-head"] == "h-abc" and head["x-head-bin"] == b"\x00\xfe"
        assert trail["x-node-trail"] == "t1" and trail["x-trail-bin"] == b"\xff\x01"
        # the node got the client's metadata once each, and the time left, not the client's
        # transport headers
        answered = [f for f in fs if f.host == resp.id][0]
        remaining, md = answered.calls[-1]
        assert md["x-client"] == "abc" and md["x-blob-bin"] == b"\x00\x01\xff"
        assert md["inferd-routing-key"] == "user-7"
        assert 0 < remaining <= 10
        # an error status from the node: its trailers reach the client too (trailers-only)
        with pytest.raises(grpc.RpcError) as e:
            s.ModelInfer(identity_request(), timeout=10, metadata=[("x-fail", "yes")])
        assert e.value.code() == SC.NOT_FOUND and "fake says" in e.value.details()
        assert dict(e.value.trailing_metadata())["x-node-trail"] == "t1"
        # too much request metadata: a clear status from the gateway, no node asked
        n_calls = sum(len(f.calls) for f in fs)
        with pytest.raises(grpc.RpcError) as e:
            s.ModelInfer(identity_request(), timeout=10,
                         metadata=[("x-many-%d" % i, "v") for i in range(80)])
        assert e.value.code() == SC.RESOURCE_EXHAUSTED and "metadata" in e.value.details()
        assert sum(len(f.calls) for f in fs) == n_calls
        # too much response metadata from the node: INTERNAL, said plainly
        for f in fs:
            f.behave = lambda context: context.set_trailing_metadata(
                tuple(("x-t-%d" % i, "v") for i in range(80)))
        with pytest.raises(grpc.RpcError) as e:
            s.ModelInfer(identity_request(), timeout=10)
        assert e.value.code() == SC.INTERNAL and "metadata" in e.value.details()
        # and the gateway goes on
        for f in fs:
            f.behave = lambda context: None
        assert s.ModelInfer(identity_request(), timeout=10).model_name == "identity"


def test_hedge_loser_is_reset_and_dropped_by_its_node(fakes):
    dropped = threading.Event()
    gw, fs = fakes(lambda context: None, gw_args=["--hedge-percent", "100"])
    ch, s = stub_of(gw.grpc_target)
    key = [("inferd-routing-key", "sticky")]
    with ch:
        # the key's node answers 40 times: its p95 is known (the estimate needs 20)
        prime(lambda i: s.ModelInfer(identity_request(), timeout=10, metadata=key), 40)
        sticky = max(fs, key=lambda f: len(f.calls))
        other = [f for f in fs if f is not sticky][0]
        assert len(sticky.calls) > len(other.calls)

        def stalls(context):
            gone = threading.Event()
            context.add_callback(gone.set)  # runs when the call ends: here, reset by the gateway
            if gone.wait(timeout=20) and not context.is_active():
                dropped.set()
            return None

        def hedges(who):
            fam = promtext.parse(promtext.scrape(gw))
            return (promtext.value(fam, "inferd_gateway_node_hedges_total", node=who.http.address),
                    promtext.value(fam, "inferd_gateway_node_hedges_won_total",
                                   node=who.http.address))

        before = hedges(other)
        sticky.behave = stalls
        resp = s.ModelInfer(identity_request(), timeout=15, metadata=key)
        assert resp.id == other.host  # the hedge copy won
        after = hedges(other)
        assert after[0] - before[0] == 1 and after[1] - before[1] == 1
        # the stalled copy was reset (CANCEL): its node saw the call end without answering it
        assert dropped.wait(timeout=10)


def test_hung_node_answered_by_hedges_before_it_is_marked_down(cluster):
    """SIGSTOP on a node: its calls are answered by hedge copies on the other node, while the
    gateway still counts the node ready (its checks fail 5 times 5 s apart first)."""
    gw, nodes = cluster(gw_args=["--hedge-percent", "100", "--health-interval-ms", "5000",
                                 "--health-fail-threshold", "5"])
    ch, s = stub_of(gw.grpc_target)
    stopped = False
    try:
        with ch:
            def call(i):
                x = np.full((1, 2), i, np.float32)
                r = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x]), timeout=10,
                                 metadata=[("inferd-routing-key", "k%d" % (i % 100))])
                assert np.array_equal(grpcstubs.output_array(r, 0), x)
            prime(call, 60)  # latency estimates on both nodes
            os.kill(nodes[0].proc.pid, signal.SIGSTOP)
            stopped = True
            for i in range(30):
                x = np.full((1, 2), 1000 + i, np.float32)
                r = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x]), timeout=20,
                                 metadata=[("inferd-routing-key", "k%d" % i)])
                assert np.array_equal(grpcstubs.output_array(r, 0), x)
            hung = "%s:%d" % (nodes[0].host, nodes[0].port)
            # answered by hedges, not by the node being marked down
            assert [x["ready"] for x in gw.nodes_json() if x["address"] == hung] == \
                [True]
            fam = promtext.parse(promtext.scrape(gw))
            alive = "%s:%d" % (nodes[1].host, nodes[1].port)
            assert promtext.value(fam, "inferd_gateway_node_hedges_won_total", node=alive) >= 1
    finally:
        if stopped:
            os.kill(nodes[0].proc.pid, signal.SIGCONT)


def test_grpc_connections_in_metrics(fakes):
    gw, fs = fakes(lambda context: None)

    def conns():
        text = promtext.scrape(gw)
        promtext.promtool_check(text)
        fam = promtext.parse(text)
        return (promtext.value(fam, "inferd_connections", protocol="grpc"),
                promtext.value(fam, "inferd_connections_accepted_total", protocol="grpc"),
                promtext.value(fam, "inferd_connections", protocol="http"))

    assert conns()[:2] == (0, 0)
    ch, s = stub_of(gw.grpc_target)
    with ch:
        assert s.ModelInfer(identity_request(), timeout=10).model_name == "identity"
        open_, accepted, http = conns()
        assert open_ == 1 and accepted == 1 and http >= 1
    deadline = time.monotonic() + 10  # the channel closed: the gateway sees the connection go
    while time.monotonic() < deadline and conns()[0] != 0:
        time.sleep(0.02)
    assert conns()[:2] == (0, 1)


def test_large_response_streams_through(cluster):
    """A 12 MiB answer passes through a gateway whose --max-response-bytes is 1 MiB: gRPC
    response DATA is passed on as it comes, never buffered whole; a stream of large answers
    too, each matched by its id."""
    gw, nodes = cluster(gw_args=["--max-response-bytes", "1048576"])
    opts = [("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20), ("grpc.enable_retries", 0)]
    with grpc.insecure_channel(gw.grpc_target, options=opts) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        x = np.arange(3 << 20, dtype=np.float32).reshape(1, 3 << 20)
        r = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x]), timeout=60)
        assert np.array_equal(grpcstubs.output_array(r, 0), x)
        xs = [np.full((1, 1 << 19), k, np.float32) for k in range(4)]
        got = {m.infer_response.id: grpcstubs.output_array(m.infer_response, 0)
               for m in s.ModelStreamInfer(
                   iter([grpcstubs.infer_request(pb, "identity", [v], rid="s%d" % k)
                         for k, v in enumerate(xs)]), timeout=60)}
        # answers come as they are ready (docs/grpc-api.md), matched by id, not by order
        assert sorted(got) == ["s0", "s1", "s2", "s3"]
        assert all(np.array_equal(got["s%d" % k], v) for k, v in enumerate(xs))
