# inferctl infer / models / stats against a real node, and the errors a user can make: every
# one gives a clear message and a non-zero exit code.
import json
import os

from conftest import SOURCE_DIR, free_port
from inferctl_util import inferctl, npy_read, npy_write


def test_infer_json_input_writes_npy(node, tmp_path):
    n = node()
    out = tmp_path / "out"
    rc, stdout, stderr = inferctl("infer", "identity", "--url", n.url,
                                  "--input", "INPUT0=[[1, 2, 3.5], [4, 5, -6]]",
                                  "--output-dir", out)
    assert rc == 0, stderr
    assert "OUTPUT0 FP32 [2,3] 1 2 3.5 4 5 -6" in stdout
    descr, shape, values = npy_read(out / "OUTPUT0.npy")
    assert (descr, shape, values) == ("<f4", (2, 3), [1, 2, 3.5, 4, 5, -6])


def test_infer_npy_input_digits_classifies(node, tmp_path):
    n = node()
    with open(os.path.join(SOURCE_DIR, "models", "digits", "samples.json")) as f:
        samples = json.load(f)
    flat = [v for row in samples["inputs"] for v in row]
    npy_write(tmp_path / "x.npy", "<f4", (len(samples["inputs"]), 64), flat)
    rc, stdout, stderr = inferctl("infer", "digits", "--url=" + n.url,
                                  "--input", "input=%s" % (tmp_path / "x.npy"),
                                  "--output-dir", tmp_path)
    assert rc == 0, stderr
    descr, shape, probs = npy_read(tmp_path / "probabilities.npy")
    assert shape == (10, 10)
    rows = [probs[i * 10:(i + 1) * 10] for i in range(10)]
    assert [r.index(max(r)) for r in rows] == samples["labels"]
    assert all(abs(sum(r) - 1) < 1e-4 for r in rows)


def test_infer_adds_batch_dimension_and_bytes(node):
    n = node()
    rc, stdout, stderr = inferctl("infer", "identity", "--url", n.url, "--input", "INPUT0=[7,8]")
    assert rc == 0, stderr
    assert "OUTPUT0 FP32 [1,2] 7 8" in stdout
    rc, stdout, stderr = inferctl("infer", "reverse", "--url", n.url,
                                  "--input", 'INPUT0=["hello", "abc"]')
    assert rc == 0, stderr
    assert '"WORKER_PROCESSED: OLLEH" "WORKER_PROCESSED: CBA"' in stdout


def test_models_and_stats(node):
    n = node()
    rc, stdout, stderr = inferctl("models", "--url", n.url)
    assert rc == 0, stderr
    lines = stdout.splitlines()
    assert lines[0].split() == ["MODEL", "VERSION", "STATE", "REASON"]
    assert {l.split()[0]: l.split()[2] for l in lines[1:]} == {
        "delay": "READY", "digits": "READY", "identity": "READY", "reverse": "READY"}
    for _ in range(3):
        assert inferctl("infer", "identity", "--url", n.url, "--input", "INPUT0=[1]")[0] == 0
    rc, stdout, stderr = inferctl("stats", "identity", "--url", n.url, "--json")
    assert rc == 0, stderr
    st = json.loads(stdout)["model_stats"][0]
    assert st["name"] == "identity" and st["inference_stats"]["success"]["count"] == 3
    rc, stdout, stderr = inferctl("stats", "--url", n.url)
    assert rc == 0, stderr
    table = {l.split()[0]: l.split() for l in stdout.splitlines()[1:]}
    assert set(table) == {"delay", "digits", "identity", "reverse"}
    assert table["identity"][4] == "3"  # success
    assert table["reverse"][4] == "0"


def test_every_subcommand_has_help():
    for cmd in ("infer", "models", "stats", "perf"):
        rc, stdout, stderr = inferctl(cmd, "--help")
        assert rc == 0, stderr
        assert stdout.startswith("usage: inferctl %s" % cmd)
        assert "--url URL" in stdout
    rc, stdout, _ = inferctl("--help")
    assert rc == 0 and all(c in stdout for c in ("infer", "models", "stats", "perf"))


def test_usage_errors_exit_2():
    cases = [
        (["models", "--bogus"], "unknown option '--bogus'"),
        (["stats", "--url"], "--url needs a value"),
        (["infer"], "exactly one MODEL"),
        (["perf", "m", "--concurrency", "0"], "--concurrency"),
        (["perf", "m", "--concurrency", "4:2"], "A <= B"),
        (["perf", "m", "--concurrency", "1", "--request-rate", "5"], "exclude each other"),
        (["perf", "m", "--poisson"], "--poisson needs --request-rate"),
        (["perf", "m", "--duration", "abc"], "--duration"),
        (["perf", "m", "--format", "xml"], "csv or json"),
        (["frobnicate"], "unknown command 'frobnicate'"),
        ([], "usage: inferctl"),
    ]
    for args, msg in cases:
        rc, stdout, stderr = inferctl(*args)
        assert rc == 2, (args, rc, stderr)
        assert msg in stderr, (args, stderr)


def test_bad_urls_and_server_errors_exit_1(node):
    rc, _, stderr = inferctl("models", "--url", "ftp://127.0.0.1:1")
    assert rc == 1 and "must start with http://" in stderr
    rc, _, stderr = inferctl("models", "--url", "http://127.0.0.1:99999")
    assert rc == 1 and "port out of range" in stderr
    rc, _, stderr = inferctl("stats", "--url", "http://127.0.0.1:%d" % free_port())
    assert rc == 1 and "cannot connect" in stderr
    n = node()
    rc, _, stderr = inferctl("infer", "nosuch", "--url", n.url, "--input", "X=[1]")
    assert rc == 1 and "unknown model 'nosuch'" in stderr
    rc, _, stderr = inferctl("stats", "nosuch", "--url", n.url)
    assert rc == 1 and "HTTP 404" in stderr
    rc, _, stderr = inferctl("infer", "identity", "--url", n.url, "--input", "WRONG=[1]")
    assert rc == 2 and "has no input 'WRONG'" in stderr
    rc, _, stderr = inferctl("infer", "identity", "--url", n.url)
    assert rc == 2 and "input 'INPUT0' is missing" in stderr
    rc, _, stderr = inferctl("infer", "identity", "--url", n.url, "--input", "INPUT0=[[1],[2,3]]")
    assert rc == 2 and "nesting" in stderr
    rc, _, stderr = inferctl("infer", "identity", "--url", n.url, "--input",
                             "INPUT0=/nonexistent.npy")
    assert rc == 2 and "/nonexistent.npy" in stderr
    rc, _, stderr = inferctl("infer", "digits", "--url", n.url, "--input", "input=[1, 2]")
    assert rc == 2 and "does not fit" in stderr
