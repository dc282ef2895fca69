# inferctl perf against a real node: closed and open loop give parsable JSON / CSV lines with
# sane numbers, the server's counters agree with the client's, and the plot is valid SVG.
# Durations are short and the window count bounded; no figure is asserted against a speed.
import csv
import io
import json
import socket
import threading
import xml.etree.ElementTree as ET

from conftest import MOCK_IDENTITY, free_port
from inferctl_util import inferctl


def identity_node(node, model_repo):
    return node(repo=model_repo({"identity": MOCK_IDENTITY}))


def check_percentiles(row):
    assert 0 < row["p50_us"] <= row["p90_us"] <= row["p99_us"] <= row["p99_9_us"]
    assert row["p99_9_us"] <= row["max_us"] * 1.01


def test_closed_loop_json(node, model_repo):
    n = identity_node(node, model_repo)
    rc, stdout, stderr = inferctl("perf", "identity", "--url", n.url, "--concurrency", "1:3:2",
                                  "--duration", "0.3", "--max-windows", "4", "--format", "json")
    assert rc == 0, stderr
    rows = [json.loads(l) for l in stdout.splitlines()]
    assert [r["concurrency"] for r in rows] == [1, 3]
    for r in rows:
        assert r["errors"] == 0 and r["ok"] > 0
        assert 3 <= r["windows"] <= 4
        assert r["throughput_per_s"] > 0
        check_percentiles(r)
        assert r["server_total_us"] > 0 and r["avg_batch"] >= 1
        assert r["server_queue_us"] >= 0 and r["server_compute_us"] > 0
        assert r["server_share"] > 0 and 0 <= r["queue_share"] <= r["server_share"]
        # throughput is what was counted over the reported windows (three of ~0.3 s)
        assert 0.5 < r["ok"] / r["throughput_per_s"] < 2.0
    st = json.loads(inferctl("stats", "identity", "--url", n.url, "--json")[1])
    served = st["model_stats"][0]["inference_stats"]["success"]["count"]
    assert served >= sum(r["ok"] for r in rows)


def test_open_loop_csv_and_plot(node, model_repo, tmp_path):
    n = identity_node(node, model_repo)
    svg = tmp_path / "p.svg"
    rc, stdout, stderr = inferctl("perf", "identity", "--url", n.url, "--request-rate",
                                  "40:80:40", "--poisson", "--duration", "0.5",
                                  "--max-windows", "3", "--plot", svg)
    assert rc == 0, stderr
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert [float(r["rate"]) for r in rows] == [40, 80]
    for r in rows:
        assert r["concurrency"] == ""
        rate, tp = float(r["rate"]), float(r["throughput_per_s"])
        # answers come back at about the offered rate (Poisson over 1.5 s: loose bounds)
        assert 0.3 * rate < tp < 2.5 * rate, r
        assert int(r["errors"]) == 0 and int(r["windows"]) == 3
        check_percentiles({k: float(r[k]) for k in
                           ("p50_us", "p90_us", "p99_us", "p99_9_us", "max_us")})
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 3  # p50, p90, p99
    assert all(len(l.get("points").split()) == 2 for l in lines)


def test_constant_rate_sends_on_schedule(node, model_repo):
    n = identity_node(node, model_repo)
    rc, stdout, stderr = inferctl("perf", "identity", "--url", n.url, "--request-rate", "100",
                                  "--duration", "0.5", "--max-windows", "3", "--format", "json")
    assert rc == 0, stderr
    row = json.loads(stdout)
    assert row["rate"] == 100
    # constant gaps: each 0.5 s window holds 50 +- a couple of requests
    assert 120 <= row["ok"] <= 180, row


def test_perf_errors(node, model_repo):
    rc, _, stderr = inferctl("perf", "identity", "--url", "http://127.0.0.1:%d" % free_port(),
                             "--duration", "0.1")
    assert rc == 1 and "cannot connect" in stderr
    n = identity_node(node, model_repo)
    rc, _, stderr = inferctl("perf", "nosuch", "--url", n.url, "--duration", "0.1")
    assert rc == 1 and "unknown model 'nosuch'" in stderr


IDENTITY_META = json.dumps({"name": "identity", "max_batch_size": 8, "inputs": [
    {"name": "x", "datatype": "FP32", "shape": [-1, 4]}], "outputs": [
    {"name": "y", "datatype": "FP32", "shape": [-1, 4]}]}).encode()


def serve_metadata_then_die(sock):
    """Answers one request (the model's metadata), then closes its listening socket: every
    later connection to the port is refused, as when the node dies under a perf run."""
    conn, _ = sock.accept()
    with conn:
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        sock.close()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close"
                     b"\r\nContent-Length: %d\r\n\r\n%s" % (len(IDENTITY_META), IDENTITY_META))


def test_closed_loop_backs_off_from_a_dead_node():
    # Before the backoff, a closed loop against a refusing port made tens of thousands of
    # errors a second (one refused connect after another); now each slot waits 10 ms,
    # doubling to 200 ms, after a connection error: over ~1 s at most ~10 errors a slot.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    port = sock.getsockname()[1]
    t = threading.Thread(target=serve_metadata_then_die, args=(sock,), daemon=True)
    t.start()
    conc = 4
    rc, stdout, stderr = inferctl("perf", "identity", "--url", "http://127.0.0.1:%d" % port,
                                  "--concurrency", conc, "--duration", "0.3",
                                  "--max-windows", "4", "--format", "json", timeout=60)
    t.join(timeout=10)
    assert rc == 1 and "no request succeeded" in stderr, stderr
    row = json.loads(stdout.splitlines()[0])
    assert row["ok"] == 0 and row["windows"] == 4
    # the last three windows (0.9 s): 10+20+40+80+160+200+200+200 ms covers them in 8 tries
    assert 1 <= row["errors"] <= conc * 12, row
