#!/usr/bin/python3
"""RNN, GRU (both linear_before_reset values) and LSTM with constant W, R and B, which the runtime
packs at load (docs/onnx-runtime.md, RNN / GRU / LSTM), against a float64 numpy reference: one
direction and both, batch 1 (the packed matrix-vector product), 3 (the few-row path) and 6 (the
microkernels), with and without sequence_lens, and the same models with W and R as graph
inputs (the unpacked path). The conformance suite feeds W and R as inputs only.
Usage: test_onnx_rnn.py PATH/TO/inferd-onnx"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(11)
SEQ, INP, HID = 7, 24, 40


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def ref(kind, x, w, r, b, lens, ndir, lbr):
    """Y [seq][ndir][batch][hid] and Y_h in float64 (default activations, no initial states)."""
    seq, batch = x.shape[:2]
    y = np.zeros((seq, ndir, batch, HID))
    yh = np.zeros((ndir, batch, HID))
    g = {"RNN": 1, "GRU": 3, "LSTM": 4}[kind]
    for d in range(ndir):
        wd, rd = w[d].astype(np.float64), r[d].astype(np.float64)
        wb, rb = b[d, :g * HID].astype(np.float64), b[d, g * HID:].astype(np.float64)
        for bi in range(batch):
            h, c = np.zeros(HID), np.zeros(HID)
            steps = range(lens[bi])
            for t in (reversed(steps) if d == 1 else steps):
                xw = wd @ x[t, bi] + wb
                if kind == "RNN":
                    h = np.tanh(xw + rd @ h + rb)
                elif kind == "LSTM":
                    q = xw + rd @ h + rb
                    i, o, f, cc = (q[k * HID:(k + 1) * HID] for k in range(4))
                    c = sig(f) * c + sig(i) * np.tanh(cc)
                    h = sig(o) * np.tanh(c)
                else:
                    q = rd[:2 * HID] @ h + rb[:2 * HID]
                    z = sig(xw[:HID] + q[:HID])
                    rr = sig(xw[HID:2 * HID] + q[HID:])
                    if lbr:
                        hh = np.tanh(xw[2 * HID:] + rr * (rd[2 * HID:] @ h + rb[2 * HID:]))
                    else:
                        hh = np.tanh(xw[2 * HID:] + rd[2 * HID:] @ (rr * h) + rb[2 * HID:])
                    h = (1 - z) * hh + z * h
                y[t, d, bi] = h
            yh[d, bi] = h
    return y, yh


def model(kind, batch, ndir, lbr, const, with_lens):
    g = {"RNN": 1, "GRU": 3, "LSTM": 4}[kind]
    w = (RNG.standard_normal((ndir, g * HID, INP)) / np.sqrt(INP)).astype(np.float32)
    r = (RNG.standard_normal((ndir, g * HID, HID)) / np.sqrt(HID)).astype(np.float32)
    b = (RNG.standard_normal((ndir, 2 * g * HID)) * 0.3).astype(np.float32)
    lens = np.full(batch, SEQ, np.int32)
    if with_lens:
        lens = RNG.integers(0, SEQ + 1, batch).astype(np.int32)
        lens[0] = SEQ
    attrs = {"hidden_size": HID, "direction": "bidirectional" if ndir == 2 else "forward"}
    if kind == "GRU":
        attrs["linear_before_reset"] = lbr
    node = helper.make_node(kind, ["x", "W", "R", "B", "lens"], ["y", "yh"], **attrs)
    consts = [numpy_helper.from_array(b, "B"), numpy_helper.from_array(lens, "lens")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [SEQ, batch, INP])]
    feeds = {}
    if const:
        consts += [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R")]
    else:
        inputs += [helper.make_tensor_value_info("W", TensorProto.FLOAT, list(w.shape)),
                   helper.make_tensor_value_info("R", TensorProto.FLOAT, list(r.shape))]
        feeds = {"W": w, "R": r}
    graph = helper.make_graph(
        [node], "rnn", inputs,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "yh")], consts)
    return graph, feeds, (w, r, b, lens)


def main():
    tool = sys.argv[1]
    failed = []
    with tempfile.TemporaryDirectory() as d:
        for kind, lbr in (("RNN", 0), ("GRU", 0), ("GRU", 1), ("LSTM", 0)):
            for batch, ndir, with_lens in ((1, 1, False), (1, 2, False), (3, 2, True),
                                           (6, 1, True), (6, 2, False)):
                for const in (True, False):
                    name = "%s%s_b%d_d%d%s_%s" % (kind, "_lbr" if lbr else "", batch, ndir,
                                                 "_lens" if with_lens else "",
                                                 "packed" if const else "plain")
                    graph, feeds, (w, r, b, lens) = model(kind, batch, ndir, lbr, const,
                                                          with_lens)
                    x = RNG.standard_normal((SEQ, batch, INP)).astype(np.float32)
                    path = os.path.join(d, name + ".onnx")
                    onnx.save(helper.make_model(graph,
                                                opset_imports=[helper.make_opsetid("", 17)]), path)
                    args = [tool, "run", path]
                    for k, v in dict(feeds, x=x).items():
                        np.save(os.path.join(d, name + k + ".npy"), v)
                        args += ["--input", "%s=%s" % (k, os.path.join(d, name + k + ".npy"))]
                    out = os.path.join(d, name)
                    os.mkdir(out)
                    res = subprocess.run(args + ["--output-dir", out], capture_output=True,
                                         text=True, timeout=120)
                    if res.returncode != 0:
                        failed.append("%s: %s" % (name, res.stderr.strip()))
                        continue
                    want_y, want_h = ref(kind, x, w, r, b, lens, ndir, lbr)
                    for got, want, what in ((np.load(os.path.join(out, "y.npy")), want_y, "Y"),
                                            (np.load(os.path.join(out, "yh.npy")), want_h, "Y_h")):
                        err = np.abs(got - want).max() if got.shape == want.shape else np.inf
                        if not err < 2e-5:
                            failed.append("%s: %s shape %s, max error %g" %
                                          (name, what, got.shape, err))
                    print("%-28s ok" % name)
    for f in failed:
        print("FAIL", f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
