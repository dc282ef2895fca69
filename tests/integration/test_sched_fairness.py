# A flood of one model leaves the others their batch slots: a flood of long `delay` requests
# that fills every batch slot it has (each model has its own scheduler and --batch-slots
# slots; within one scheduler, slot_share keeps a reserve per model, test_slot_share) still
# lets /process (another model) answer while every delay request is still running.
import json
import threading
import time

from conftest import MOCK_REVERSE

SLOTS = 16
FLOOD = 20          # more than the slots: some delay requests wait in its queue
DELAY_MS = 4000
DELAY_ONE = {"backend": "delay", "max_batch_size": 1, "delay_ms": DELAY_MS,
             "timeout_ms": 60000, "workers": {"min": 1, "max": 1},
             "dynamic_batching": {"max_queue_delay_us": 0},
             "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
             "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}]}
ONE = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1], "data": [1]}]}


def delay_in_flight(n):
    _, _, body = n.request("GET", "/v2/models/delay/stats")
    return json.loads(body)["model_stats"][0]["inferd"]["batches_in_flight"]


def test_flood_of_one_model_leaves_the_other_its_slots(node, model_repo):
    n = node(repo=model_repo({"delay": DELAY_ONE, "reverse": MOCK_REVERSE}),
             args=["--batch-slots", str(SLOTS)])
    answered = []          # (model, status) in the order the answers came
    lock = threading.Lock()

    def delay_one():
        s, _, _ = n.request("POST", "/v2/models/delay/infer", body=ONE, timeout=60)
        with lock:
            answered.append(("delay", s))

    threads = [threading.Thread(target=delay_one) for _ in range(FLOOD)]
    for t in threads:
        t.start()
    # Wait (bounded) until the flood holds every slot it may: all of its own.
    end = time.monotonic() + 30
    while delay_in_flight(n) < SLOTS and time.monotonic() < end:
        time.sleep(0.02)
    assert delay_in_flight(n) == SLOTS
    with lock:
        assert answered == []

    status, _, body = n.request("POST", "/process", body=b'{"message": "hello"}', timeout=60)
    with lock:
        answered.append(("process", status))
        early = list(answered)
    assert status == 200, body
    # /process did not wait for a single delay request to finish.
    assert early == [("process", 200)]

    for t in threads:
        t.join(60)
    assert sorted(answered) == [("delay", 200)] * FLOOD + [("process", 200)]
