# A node told to stop (SIGTERM) first turns not ready and keeps serving for --drain-delay-ms,
# so load balancers and the gateway stop sending before it stops accepting; then it drains
# and exits. With --drain-delay-ms 0 it stops accepting at once (as before).
import signal
import time

import pytest


def process(n, msg):
    return n.request("POST", "/process", body={"message": msg}, timeout=10)


def test_sigterm_turns_unready_then_keeps_serving(node):
    n = node(args=["--drain-delay-ms", "3000"])
    assert n.request("GET", "/v2/health/ready")[0] == 200
    t0 = time.monotonic()
    n.proc.send_signal(signal.SIGTERM)
    assert n.wait_log("not ready; serving for 3000 ms", timeout=10)
    status, _, body = n.request("GET", "/v2/health/ready")
    assert status == 503 and b"draining" in body
    # still serving (live, and requests) during the delay
    assert n.request("GET", "/v2/health/live")[0] == 200
    status, _, body = process(n, "still here")
    assert status == 200 and body == b'{"result": "WORKER_PROCESSED: EREH LLITS"}'
    assert n.proc.wait(timeout=20) == 0
    assert time.monotonic() - t0 >= 3.0  # it did wait the delay before stopping


def test_zero_delay_stops_intake_at_once(node):
    n = node(args=["--drain-delay-ms", "0"])
    n.proc.send_signal(signal.SIGTERM)
    assert n.proc.wait(timeout=20) == 0
    assert "not ready; serving" not in n.log_text()


@pytest.mark.parametrize("value", ["-1", "x", "3600001"])
def test_bad_drain_delay_refused(node, value):
    import subprocess
    from conftest import bin_path
    r = subprocess.run([bin_path("inferd"), "--drain-delay-ms", value], capture_output=True,
                       timeout=10)
    assert r.returncode == 2 and b"--drain-delay-ms" in r.stderr
