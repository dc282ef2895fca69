# Logs: one line per event; with --log-format json every line of the node and of its workers
# is one JSON object with ts, level, proc, pid and msg; --log-level filters.
import json

from conftest import MOCK_REVERSE


def test_json_logs_of_node_and_workers(node, model_repo):
    n = node(repo=model_repo({"reverse": MOCK_REVERSE}), args=["--log-format", "json"])
    assert n.post_json("/process", {"message": "x"})[0] == 200
    n.stop()
    lines = [l for l in n.log_text().splitlines() if l and not l.startswith("=== ")]
    assert lines
    procs = set()
    for line in lines:
        rec = json.loads(line)          # every line is one JSON object
        assert set(rec) >= {"ts", "level", "proc", "pid", "msg"}, rec
        assert rec["level"] in ("debug", "info", "warn", "error")
        procs.add(rec["proc"].split("/")[0])
    assert procs == {"inferd", "inferd-worker"}, procs
    msgs = [json.loads(l)["msg"] for l in lines]
    assert any(m.startswith("worker spawned model=reverse") for m in msgs), msgs
    assert any(m.startswith("listening on http://127.0.0.1:") for m in msgs), msgs


def test_log_level_filters(node, model_repo):
    # a broken model is logged at error level; the info lines of a start are not
    n = node(repo=model_repo({"reverse": MOCK_REVERSE, "broken": "{not json"}),
             args=["--log-level", "warn"])
    n.stop()
    text = n.log_text()
    assert " error " in text and "broken" in text, text[-2000:]
    assert " info " not in text and "worker spawned" not in text, text[-2000:]
