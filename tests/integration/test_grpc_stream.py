# ModelStreamInfer: a bidirectional stream with 1,000 requests in flight on one connection,
# answers out of order matched by id, failures reported in error_message while the stream goes
# on, and a stream the client abandons (its queued requests are cancelled).
import queue
import threading
import time

import grpc
import numpy as np
import pytest

import grpcstubs

pb, rpc = grpcstubs.load()


def test_thousand_requests_in_flight_on_one_stream(node):
    n = node()
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        reqs = [grpcstubs.infer_request(pb, "identity",
                                        [np.full((1, 8), i, np.float32)], rid="id-%d" % i)
                for i in range(1000)]
        # the generator hands every request over at once: all 1,000 are in flight together
        got = {}
        for r in s.ModelStreamInfer(iter(reqs), timeout=120):
            assert r.error_message == "", r.error_message
            got[r.infer_response.id] = grpcstubs.output_array(r.infer_response, 0)
        assert len(got) == 1000
        for i in range(1000):
            assert np.array_equal(got["id-%d" % i], np.full((1, 8), i, np.float32))


def test_answers_out_of_order_and_errors_in_band(node, model_repo):
    repo = model_repo({"slow": {
        "backend": "delay", "max_batch_size": 8, "delay_ms": 0,
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
        "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}],
        "workers": {"min": 2, "max": 2}, "dynamic_batching": {"max_queue_delay_us": 0}}})
    n = node(repo=repo)
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        x = np.zeros((1, 1), np.float32)
        out_q = queue.Queue()
        first = threading.Event()

        def requests():
            yield grpcstubs.infer_request(pb, "slow", [x], rid="slow", params={"delay_ms": 800})
            bad = grpcstubs.infer_request(pb, "slow", [x], rid="bad")
            bad.inputs[0].datatype = "INT8"
            yield bad
            yield grpcstubs.infer_request(pb, "nope", [x], rid="unknown")
            yield grpcstubs.infer_request(pb, "slow", [x], rid="fast")
            first.wait(30)  # keep the stream open until an answer came back

        for r in s.ModelStreamInfer(requests(), timeout=60):
            out_q.put(r)
            first.set()
        answers = []
        while not out_q.empty():
            answers.append(out_q.get())
        ids = [a.infer_response.id for a in answers]
        assert sorted(ids) == ["bad", "fast", "slow", "unknown"]
        assert ids.index("fast") < ids.index("slow")  # out of order: the quick one first
        by_id = {a.infer_response.id: a for a in answers}
        assert "datatype" in by_id["bad"].error_message
        assert "unknown model" in by_id["unknown"].error_message
        assert by_id["fast"].error_message == "" and by_id["slow"].error_message == ""


def test_abandoned_stream_cancels_queued_requests(node, model_repo):
    repo = model_repo({"slow": {
        "backend": "delay", "max_batch_size": 1, "delay_ms": 0,
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
        "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}],
        "workers": {"min": 1, "max": 1}, "dynamic_batching": {"max_queue_delay_us": 0}}})
    n = node(repo=repo, args=["--batch-slots", "1"])
    x = np.zeros((1, 1), np.float32)
    stop = threading.Event()

    def requests():
        for i in range(5):
            yield grpcstubs.infer_request(pb, "slow", [x], rid=str(i), params={"delay_ms": 500})
        stop.wait(30)

    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        call = s.ModelStreamInfer(requests(), timeout=60)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            _, st = n.get_json("/v2/models/slow/stats")
            if st["model_stats"][0]["inferd"]["queue_len"] == 4:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the 4 queued requests never showed")
        call.cancel()
        stop.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            _, st = n.get_json("/v2/models/slow/stats")
            if st["model_stats"][0]["inferd"]["cancelled"] == 4:
                break
            time.sleep(0.02)
        else:
            pytest.fail("queued requests were not cancelled: %s" % st)
        # the node serves on
        r = s.ModelInfer(grpcstubs.infer_request(pb, "slow", [x]), timeout=10)
        assert r.model_name == "slow"
