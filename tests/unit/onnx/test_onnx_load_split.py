#!/usr/bin/python3
"""Loading a model file holds its weights once (docs/onnx-runtime.md, "Life cycle": the
initializers' raw_data lifted out of the file before decoding, rawsplit.h; a MatMul's B kept
only packed): the values of large raw initializers, small raw ones, typed-field (float_data)
ones and Constant nodes all arrive intact, and the peak RSS stays well under twice the weights
(it was about twice before). Usage: test_onnx_load_split.py PATH/TO/inferd-onnx [--no-rss-bound]
(sanitizer builds: the values only)"""
import os
import subprocess
import sys
import tempfile

import numpy as np

RNG = np.random.default_rng(11)


def build(d):
    """Writes d/split.onnx (four 16 MiB tables read by Gather, a 16 MiB MatMul weight, a small
    raw initializer, a float_data one and a Constant: 80 MiB of weights), its inputs and the
    expected outputs (d/want_NAME.npy). Run in a child process, so the process that starts
    inferd-onnx stays small: a child's peak RSS starts from its parent's (Linux keeps it across
    fork and exec)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    tables = [RNG.standard_normal((1024, 4096)).astype(np.float32) for _ in range(4)]
    w = (RNG.standard_normal((2048, 2048)) / 45).astype(np.float32)
    small = RNG.standard_normal(64).astype(np.float32)
    typed = RNG.standard_normal(64).astype(np.float32)
    const = RNG.standard_normal(64).astype(np.float32)
    inits = [numpy_helper.from_array(t, "T%d" % i) for i, t in enumerate(tables)]
    inits += [numpy_helper.from_array(w, "W"), numpy_helper.from_array(small, "S"),
              helper.make_tensor("F", TensorProto.FLOAT, [64], typed.tolist())]
    nodes = [helper.make_node("Gather", ["T%d" % i, "idx"], ["g%d" % i]) for i in range(4)]
    nodes += [helper.make_node("MatMul", ["x", "W"], ["m"]),
              helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(const)),
              helper.make_node("Add", ["S", "v"], ["s1"]),
              helper.make_node("Add", ["F", "c"], ["fc"]),
              helper.make_node("Add", ["s1", "fc"], ["sfc"])]
    outs = ["g0", "g1", "g2", "g3", "m", "sfc"]
    graph = helper.make_graph(
        nodes, "split",
        [helper.make_tensor_value_info("idx", TensorProto.INT64, [3]),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2048]),
         helper.make_tensor_value_info("v", TensorProto.FLOAT, [64])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              os.path.join(d, "split.onnx"))
    idx = np.array([5, 1023, 0], dtype=np.int64)
    x = RNG.standard_normal((1, 2048)).astype(np.float32)
    v = RNG.standard_normal(64).astype(np.float32)
    for name, arr in (("idx", idx), ("x", x), ("v", v)):
        np.save(os.path.join(d, name + ".npy"), arr)
    want = {"g0": tables[0][idx], "g1": tables[1][idx], "g2": tables[2][idx],
            "g3": tables[3][idx], "m": x.astype(np.float64) @ w.astype(np.float64),
            "sfc": (small + v) + (typed + const)}
    for name, arr in want.items():
        np.save(os.path.join(d, "want_" + name + ".npy"), arr)


def main():
    if sys.argv[1] == "--build":
        build(sys.argv[2])
        return 0
    tool = sys.argv[1]
    failed = []
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, os.path.abspath(__file__), "--build", d], check=True,
                       timeout=120)
        model, out = os.path.join(d, "split.onnx"), os.path.join(d, "out")
        os.mkdir(out)
        args = []
        for name in ("idx", "x", "v"):
            args += ["--input", "%s=%s" % (name, os.path.join(d, name + ".npy"))]
        log = os.path.join(d, "run.log")
        pid = os.posix_spawn(os.path.abspath(tool), [tool, "run", model] + args +
                             ["--output-dir", out], os.environ,
                             file_actions=[(os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT, 0o644),
                                           (os.POSIX_SPAWN_DUP2, 1, 2)])
        _, status, usage = os.wait4(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            failed.append("run: " + open(log).read().strip())
        else:
            for name in ("g0", "g1", "g2", "g3", "m", "sfc"):
                w = np.load(os.path.join(d, "want_" + name + ".npy"))
                y = np.load(os.path.join(out, name + ".npy"))
                if name == "m":
                    err = np.abs(y - w).max() / np.abs(w).max()
                    ok = y.shape == w.shape and err < 1e-5
                else:
                    ok = np.array_equal(y, w.astype(np.float32))
                print("%-4s %-12s %s" % (name, "x".join(map(str, y.shape)), "ok" if ok else "WRONG"))
                if not ok:
                    failed.append("output %s differs" % name)
            # the weights held twice at load (file bytes and decoded message, or plain and
            # packed) would be 160 MiB and more
            peak = usage.ru_maxrss / 1024
            print("peak RSS %.1f MiB for 80 MiB of weights" % peak)
            if "--no-rss-bound" not in sys.argv and not peak < 128:
                failed.append("peak RSS %.1f MiB: the weights were held twice" % peak)
    for f in failed:
        print("FAIL", f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
