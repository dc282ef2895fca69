# The live dashboard (GET /dashboard) in a real browser: Debian's chromium driven by
# puppeteer-core (tests/browser/, installed here with `npm ci` from its lock file) while this
# test runs load. On a node, tests/browser/dashboard.mjs asserts no console errors, moving
# charts, and a SIGKILLed worker shown restarting and then live again; on a gateway,
# gateway_dashboard.mjs asserts a row per node, moving requests/s, and a SIGKILLed node shown
# not ready with its breaker open. Each ends with PASS or FAIL.
import fcntl
import os
import shutil
import subprocess
import threading

import pytest

from conftest import MOCK_IDENTITY, SOURCE_DIR
from test_gateway_proxy import addr, gateway, process  # noqa: F401 (gateway: a fixture)

BROWSER_DIR = os.path.join(SOURCE_DIR, "tests", "browser")
ONE = [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]


def npm_ci():
    """node_modules from package-lock.json, once (a lock file keeps parallel builds' test
    runs from installing over each other; the installed lock copy says it is up to date)."""
    for prog in ("node", "npm"):
        if not shutil.which(prog):
            pytest.fail("%s is not installed (scripts/install-deps)" % prog)
    with open(os.path.join(BROWSER_DIR, ".npm-ci.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        want = open(os.path.join(BROWSER_DIR, "package-lock.json"), "rb").read()
        stamp = os.path.join(BROWSER_DIR, "node_modules", ".inferd-lock-copy")
        if os.path.exists(stamp) and open(stamp, "rb").read() == want:
            return
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=BROWSER_DIR, capture_output=True, timeout=300)
        assert r.returncode == 0, "npm ci failed: " + r.stderr.decode()[-2000:]
        with open(stamp, "wb") as f:
            f.write(want)


def run_under_load(send, script_args, threads=2):
    """Runs tests/browser/SCRIPT ARGS... (bounded) while `threads` threads call send() in a
    loop; returns its output, asserting it passed."""
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                send()
            except OSError:
                pass  # a worker or node going away: requests may fail, the load goes on

    ts = [threading.Thread(target=load) for _ in range(threads)]
    for t in ts:
        t.start()
    try:
        r = subprocess.run(["node", os.path.join(BROWSER_DIR, script_args[0])] + script_args[1:],
                           capture_output=True, timeout=180)
    finally:
        stop.set()
        for t in ts:
            t.join(10)
    out = r.stdout.decode()
    assert r.returncode == 0 and "PASS" in out, out + r.stderr.decode()[-3000:]
    return out


def need_browser():
    if not os.path.exists("/usr/bin/chromium"):
        pytest.fail("chromium is not installed (scripts/install-deps)")
    npm_ci()


def test_dashboard_in_chromium(node, model_repo):
    need_browser()
    one = dict(MOCK_IDENTITY, workers={"min": 1, "max": 1})
    n = node(repo=model_repo({"identity": one}), args=["--restart-backoff-ms", "3000"])
    status, headers, body = n.request("GET", "/dashboard")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"http://" not in body and b"https://" not in body  # nothing from the network
    assert n.request("GET", "/dashboard/mode.json")[2] == b'{"mode": "node"}'
    run_under_load(lambda: n.infer("identity", ONE, timeout=5),
                   ["dashboard.mjs", n.url, "identity", "/usr/bin/chromium"])


def test_gateway_dashboard_in_chromium(node, gateway):
    need_browser()
    n1, n2 = node(), node()
    gw = gateway([addr(n1), addr(n2)])
    gw.wait_nodes(lambda ns: all(x["ready"] for x in ns))
    status, headers, body = gw.request("GET", "/dashboard")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"http://" not in body and b"https://" not in body
    assert gw.request("GET", "/dashboard/mode.json")[2] == b'{"mode": "gateway"}'
    assert gw.request("GET", "/dashboard/nope.js")[0] == 404
    assert gw.request("POST", "/dashboard")[0] == 405
    counter = iter(range(10 ** 9))
    run_under_load(lambda: process(gw, "dash %d" % next(counter)),
                   ["gateway_dashboard.mjs", "http://127.0.0.1:%d" % gw.port,
                    "%s,%s" % (addr(n1), addr(n2)), addr(n2), str(n2.proc.pid),
                    "/usr/bin/chromium"])
