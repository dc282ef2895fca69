# The live dashboard (GET /dashboard) in a real browser: Debian's chromium driven by
# puppeteer-core (tests/browser/, installed here with `npm ci` from its lock file) while this
# test runs load. tests/browser/dashboard.mjs asserts no console errors, moving charts, and a
# SIGKILLed worker shown restarting and then live again; it ends with PASS or FAIL.
import fcntl
import os
import shutil
import subprocess
import threading

import pytest

from conftest import MOCK_IDENTITY, SOURCE_DIR

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


def test_dashboard_in_chromium(node, model_repo):
    if not os.path.exists("/usr/bin/chromium"):
        pytest.fail("chromium is not installed (scripts/install-deps)")
    npm_ci()
    one = dict(MOCK_IDENTITY, workers={"min": 1, "max": 1})
    n = node(repo=model_repo({"identity": one}), args=["--restart-backoff-ms", "3000"])
    status, headers, body = n.request("GET", "/dashboard")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"http://" not in body and b"https://" not in body  # nothing from the network

    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                n.infer("identity", ONE, timeout=5)
            except OSError:
                pass  # the worker restarting: requests may fail, the load goes on

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        r = subprocess.run(["node", os.path.join(BROWSER_DIR, "dashboard.mjs"), n.url,
                            "identity", "/usr/bin/chromium"],
                           capture_output=True, timeout=180)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    out = r.stdout.decode()
    assert r.returncode == 0 and "PASS" in out, out + r.stderr.decode()[-3000:]
