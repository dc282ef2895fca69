#!/usr/bin/python3
"""Integration test of inferd-onnx: builds a tiny model with onnx.helper, runs `inferd-onnx
run` and `info` on it, and compares the outputs with numpy; `bench --profile` names every
executed op type and node, and the op types' shares add up to 100%.
Usage: test_onnx_tool.py PATH/TO/inferd-onnx"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build_model(path):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"], name="mm"),
        helper.make_node("Add", ["xw", "b"], ["xwb"], name="bias"),
        helper.make_node("Relu", ["xwb"], ["y"], name="relu"),
        helper.make_node("Add", ["x", "x"], ["z"], name="double"),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return w, b


def build_profile_model(path):
    """MatMul + bias + Relu (one fused node), Softmax, Transpose, Abs: four op types run."""
    rng = np.random.default_rng(8)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"], name="mm"),
        helper.make_node("Add", ["xw", "b"], ["xwb"], name="bias"),
        helper.make_node("Relu", ["xwb"], ["r"], name="relu"),
        helper.make_node("Softmax", ["r"], ["s"], name="soft", axis=-1),
        helper.make_node("Transpose", ["s"], ["y"], name="tr", perm=[1, 0]),
        helper.make_node("Abs", ["x"], ["z"], name="abs"),
    ]
    graph = helper.make_graph(
        nodes, "profiled",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, "batch"]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "W"),
         numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def check_profile(tool, d):
    model = os.path.join(d, "profiled.onnx")
    build_profile_model(model)
    for flag in ("--profile", "--profile-cpu"):
        check_profile_flag(tool, model, flag)
    # without --profile: no profile
    r = subprocess.run([tool, "bench", model, "--seconds", "1"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "profile:" not in r.stdout, (r.stdout, r.stderr)


def check_profile_flag(tool, model, flag):
    r = subprocess.run([tool, "bench", model, "--batch", "5", "--seconds", "1", flag],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    head = re.search(r"^profile: \d+ runs; [\d.]+ ms per run in 4 nodes .*$", out, re.M)
    assert head, out
    # --profile-cpu says it counted the thread's CPU clock; --profile counts wall time
    assert ("CPU clock" in head.group(0)) == (flag == "--profile-cpu"), head.group(0)
    table = out.split("time by op type (runs: nodes run per run):")[1].split("top ")[0]
    rows = re.findall(r"^\s+([\d.]+)%\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s+(\S+)$", table, re.M)
    assert sorted(r[4] for r in rows) == ["Abs", "MatMul", "Softmax", "Transpose"], out
    assert all(int(r[2]) == 1 and float(r[3]) == 1.0 for r in rows), out
    total = sum(float(r[0]) for r in rows)
    assert 99.0 <= total <= 101.0, (total, out)  # each share is rounded to 0.1%
    nodes = out.split("top 4 nodes:")[1]
    assert "MatMul [Relu] 'mm': 5x4, 4x3, 3 -> 5x3" in nodes, out
    assert "Transpose 'tr': 5x3 -> 3x5" in nodes and "Abs 'abs': 5x4 -> 5x4" in nodes, out
    assert re.search(r"^\s+[\d.]+%\s+[\d.]+\s+1\.0  MatMul \[Relu\] 'mm'", nodes, re.M), out
    # --top N lists N nodes
    r = subprocess.run([tool, "bench", model, "--seconds", "1", flag, "--top", "2"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "top 2 nodes:" in r.stdout, (r.stdout, r.stderr)
    assert len(r.stdout.split("top 2 nodes:")[1].strip().splitlines()) == 3, r.stdout


def main():
    tool = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "tiny.onnx")
        w, b = build_model(model)
        info = subprocess.run([tool, "info", model], capture_output=True, text=True, timeout=60)
        assert info.returncode == 0, info.stderr
        assert "x: FP32 [batch, 4]" in info.stdout, info.stdout
        assert "MatMul" in info.stdout and "opset: 13" in info.stdout, info.stdout

        for batch in (1, 5):
            x = np.arange(batch * 4, dtype=np.float32).reshape(batch, 4) / 7.0 - 1.0
            xin = os.path.join(d, "x.npy")
            np.save(xin, x)
            out = os.path.join(d, "out%d" % batch)
            r = subprocess.run([tool, "run", model, "--input", "x=" + xin, "--output-dir", out],
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            y = np.load(os.path.join(out, "y.npy"))
            z = np.load(os.path.join(out, "z.npy"))
            np.testing.assert_allclose(y, np.maximum(x @ w + b, 0), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(z, x + x, rtol=1e-6)

        # clear errors: wrong dtype, missing input, unknown input name, bad npy
        np.save(os.path.join(d, "xi.npy"), np.zeros((2, 4), dtype=np.int64))
        for args, needle in (
                (["--input", "x=" + os.path.join(d, "xi.npy")], "type INT64"),
                ([], "0 inputs given"),
                (["--input", "nope=" + xin], "no input 'nope'")):
            r = subprocess.run([tool, "run", model, "--output-dir", d] + args,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode != 0 and needle in r.stderr, (args, r.stderr)
        bad = os.path.join(d, "bad.npy")
        with open(bad, "wb") as f:
            f.write(b"\x93NUMPY\x01\x00\x10\x00{'descr': '>f4'")
        r = subprocess.run([tool, "run", model, "--input", "x=" + bad], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode != 0 and "bad.npy" in r.stderr, r.stderr
        r = subprocess.run([tool, "info", os.path.join(d, "missing.onnx")], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode != 0 and "cannot load" in r.stderr, r.stderr
        check_profile(tool, d)
    print("ok")


if __name__ == "__main__":
    main()
