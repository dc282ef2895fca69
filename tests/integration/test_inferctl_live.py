# inferctl top and inferctl diagnose against a real node: top's frame from the live stats
# region (models and one row per worker) and from HTTP; diagnose says all is well on a healthy
# node, names a model whose worker keeps crashing, and fails clearly on an unreachable URL.
import os
import select
import signal
import subprocess
import time

from conftest import MOCK_IDENTITY, MOCK_REVERSE, bin_path, free_port
from livestats import Region, path_for_port
from test_workers_faults import wait_for

CLI_TIMEOUT_S = 60


def inferctl(*args):
    exe = bin_path("inferctl")
    assert os.access(exe, os.X_OK), "%s is not built" % exe
    p = subprocess.run([exe] + list(args), capture_output=True, text=True,
                       timeout=CLI_TIMEOUT_S)
    return p.returncode, p.stdout, p.stderr


def reverse(n, text):
    return n.infer("reverse", [{"name": "INPUT0", "datatype": "BYTES", "shape": [1, 1],
                                "data": [text]}])


def top_on_a_tty(url, *args):
    """inferctl top with its stdout on a pseudo-terminal; everything it wrote."""
    master, slave = os.openpty()
    p = subprocess.Popen([bin_path("inferctl"), "top", "--url", url] + list(args),
                         stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + CLI_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 1.0)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not data:
                    break
                chunks.append(data)
            elif p.poll() is not None:
                break
        assert p.wait(timeout=CLI_TIMEOUT_S) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()
        os.close(master)
    return b"".join(chunks).decode()


def repo_two_models(model_repo):
    return model_repo({"reverse": dict(MOCK_REVERSE, workers={"min": 1, "max": 2}),
                       "identity": dict(MOCK_IDENTITY, workers={"min": 1, "max": 2})})


def test_top_once_from_shm_and_http(node, model_repo):
    n = node(repo=repo_two_models(model_repo))
    assert n.wait_log("live stats at", 10)
    for i in range(7):
        assert reverse(n, "x%d" % i)[0] == 200
    wait_for(lambda: len(n.worker_pids()) == 2, 10, "two workers")

    def shows_seven():
        rc, out, err = inferctl("top", "--url", n.url, "--once")
        assert rc == 0, err
        row = [l for l in out.splitlines() if l.startswith("reverse ")]
        return row and row[0].split()[4] == "7" and out
    out = wait_for(shows_seven, 10, "top to show 7 requests")
    assert "source=shm" in out and "pid=%d" % n.pid in out
    assert "WORKER OF" in out
    for pid in n.worker_pids():
        assert " %d " % pid in out, out

    rc, out, err = inferctl("top", "--url", n.url, "--once", "--source", "http")
    assert rc == 0, err
    assert "source=http" in out and "identity" in out and "WORKER OF" not in out

    # two frames, not a tty: no ANSI escapes, frames one after the other
    rc, out, err = inferctl("top", "--url", n.url, "--frames", "2", "--interval", "100")
    assert rc == 0, err
    assert out.count("inferctl top ") == 2 and "\033[" not in out

    # on a terminal: each frame clears and redraws in place, the cursor comes back at the end
    out = top_on_a_tty(n.url, "--frames", "2", "--interval", "100")
    assert out.count("\033[H\033[2J") == 2 and out.endswith("\033[?25h"), repr(out[-200:])

    # asking for the region of a port that has none
    rc, _out, err = inferctl("top", "--url", "http://127.0.0.1:%d" % free_port(), "--once",
                             "--source", "shm")
    assert rc == 1 and "no live stats region" in err


def test_diagnose_healthy_node(node, model_repo):
    n = node(repo=repo_two_models(model_repo))
    assert n.wait_log("live stats at", 10)
    assert reverse(n, "abc")[0] == 200
    # diagnose reads the region, published every 100 ms: wait until it shows every model ready
    # (a worker still starting is a finding, rightly, and this test is about a healthy node)
    region = Region(path_for_port(n.port))
    try:
        wait_for(lambda: (lambda m: len(m) == 2 and all(r["ready"] for r in m))(
            region.snapshot()["models"]), 30, "both models ready in the live stats region")
    finally:
        region.close()
    rc, out, err = inferctl("diagnose", "--url", n.url)
    assert rc == 0, out + err
    assert "[WARN]" not in out and "[CRIT]" not in out, out
    assert "0 warnings, 0 critical" in out
    assert "[OK  ] model reverse v1" in out and "[OK  ] workers:" in out, out
    assert "[OK  ] limits:" in out and "[OK  ] live stats: published" in out, out
    # as from another host: HTTP only, said so, still healthy
    rc, out, err = inferctl("diagnose", "--url", n.url, "--source", "http")
    assert rc == 0, out + err
    assert "[INFO] live stats: no region for this port here" in out
    assert "[OK  ] model identity v1" in out and "[OK  ] workers:" not in out, out


def test_diagnose_names_a_crashing_model(node, model_repo):
    repo = repo_two_models(model_repo)
    n = node(repo=repo)
    wait_for(lambda: len(n.worker_pids()) == 2, 10, "two workers")
    # its config breaks, so every replacement worker dies at once: a crash loop
    with open(os.path.join(repo, "reverse", "config.json"), "w") as f:
        f.write("{ this is not json")
    victims = [p for p in n.worker_pids() if "reverse" in open("/proc/%d/cmdline" % p).read()]
    assert len(victims) == 1
    os.kill(victims[0], signal.SIGKILL)

    def names_it():
        rc, out, _err = inferctl("diagnose", "--url", n.url)
        return rc == 1 and "[CRIT] model reverse: its workers keep crashing" in out and out
    out = wait_for(names_it, 20, "diagnose to name the crashing model")
    assert "worker exited model=reverse" in out  # what to do: where to look
    assert "[OK  ] model identity v1" in out


def test_diagnose_unreachable():
    url = "http://127.0.0.1:%d" % free_port()
    rc, out, _err = inferctl("diagnose", "--url", url)
    assert rc == 1
    assert "[CRIT] reachable: no answer from %s" % url in out
    assert "0 ok" in out and "1 critical" in out
