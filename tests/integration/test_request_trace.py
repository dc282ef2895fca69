# The per-stage request trace (docs/metrics.md, "Request stages"): its histograms count every
# HTTP request a worker computed, once per stage, and the stages add up to the total; the
# stats route shows the same counts; --trace-slow-ms logs a slow request with its stages and
# not a fast one.
import re

import promtext
from conftest import MOCK_IDENTITY

ONE = [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]
STAGES = ["decode", "queue", "wake", "run", "complete", "deliver", "write"]
SLOW = {"backend": "delay", "max_batch_size": 64, "delay_ms": 600,
        "workers": {"min": 1, "max": 1},
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
        "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}]}


def test_stage_histograms_count_and_add_up(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}))
    for _ in range(6):
        assert n.infer("identity", ONE)[0] == 200
    # refused before any worker saw it: not traced
    bad = [{"name": "INPUT0", "datatype": "FP32", "shape": [65, 1], "data": [0] * 65}]
    assert n.infer("identity", bad)[0] == 400

    fam = promtext.parse(promtext.scrape(n))
    v = lambda name, **l: promtext.value(fam, name, **l)
    total = v("inferd_request_stage_duration_seconds_sum", stage="total")
    assert v("inferd_request_stage_duration_seconds_count", stage="total") == 6
    assert total > 0
    parts = 0.0
    for s in STAGES:
        assert v("inferd_request_stage_duration_seconds_count", stage=s) == 6
        assert v("inferd_request_stage_duration_seconds_bucket", stage=s, le="+Inf") == 6
        parts += v("inferd_request_stage_duration_seconds_sum", stage=s)
    assert abs(parts - total) <= 1e-6 * max(total, 1e-3)

    status, stats = n.get_json("/v2/models/stats")
    assert status == 200
    st = stats["request_stages_us"]
    assert set(st) == set(STAGES + ["total"])
    for s in st.values():
        assert s["count"] == 6
        assert 0 <= s["p50"] <= s["p90"] <= s["p99"]
    assert abs(sum(st[s]["mean"] for s in STAGES) - st["total"]["mean"]) <= 1.0  # rounding


def test_slow_log_fires_for_a_slow_request_only(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY, "slow": SLOW}),
             args=["--trace-slow-ms", "300"])
    assert n.infer("identity", ONE)[0] == 200
    assert n.infer("slow", ONE)[0] == 200
    assert n.wait_log("slow request model=slow")
    log = n.log_text()
    assert "slow request model=identity" not in log
    line = re.search(r"slow request model=slow total_us=(\d+) (.*)", log)
    stages = dict(kv.split("=") for kv in line.group(2).split())
    assert set(stages) == set(STAGES)
    assert int(line.group(1)) >= 600000
    assert int(stages["run"]) >= 550000  # the delay is the worker's
