#!/usr/bin/python3
"""Conv, Gemm and MatMul weights the model keeps only packed (the plain copy freed at load,
docs/onnx-runtime.md "Our GEMM"): Gemm and MatMul of one, a few and many rows (batched, a 1-D
A, transB, a fused bias and activation), and every Conv path give the right answer against numpy: the GEMM paths
(1x1, im2col, grouped, 3-D by depth taps), and those that read plain weights and so unpack them
per run (by taps: small weights, wide output; Winograd over more than 256 x 256 channels at 512+
tiles; 3-D kernels nn_conv_depth declines or that are packed whole). A
weight another node also reads (here a graph output and an Add) keeps its data.
Usage: test_onnx_packed_weights.py PATH/TO/inferd-onnx"""
import itertools
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(5)


def conv_ref(x, w, b, pad, group=1):
    """Direct convolution in float64 (stride 1), 2-D or 3-D."""
    sp = x.ndim - 2
    m, cg = w.shape[:2]
    ks = w.shape[2:]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0)) + ((pad, pad),) * sp)
    out = [xp.shape[2 + i] - ks[i] + 1 for i in range(sp)]
    y = np.zeros([x.shape[0], m] + out)
    mg = m // group
    for g in range(group):
        xs = xp[:, g * cg:(g + 1) * cg]
        for off in itertools.product(*[range(k) for k in ks]):
            win = xs[(slice(None), slice(None)) + tuple(slice(o, o + n) for o, n in zip(off, out))]
            y[:, g * mg:(g + 1) * mg] += np.einsum(
                "nc...,mc->nm...", win, w[(slice(g * mg, (g + 1) * mg), slice(None)) + off])
    return y + b.reshape([1, -1] + [1] * sp)


def case(xshape, wshape, pad, group=1, share=False):
    w = (RNG.standard_normal(wshape) / np.sqrt(np.prod(wshape[1:]))).astype(np.float32)
    b = RNG.standard_normal(wshape[0]).astype(np.float32)
    sp = len(wshape) - 2
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["y"], kernel_shape=list(wshape[2:]),
                              pads=[pad] * (2 * sp), group=group)]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if share:  # W read by another node and a graph output too: its data must stay
        nodes.append(helper.make_node("Add", ["W", "W"], ["w2"]))
        outputs += [helper.make_tensor_value_info("w2", TensorProto.FLOAT, None),
                    helper.make_tensor_value_info("W", TensorProto.FLOAT, None)]
    graph = helper.make_graph(
        nodes, "packed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, xshape)], outputs,
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    return graph, w, b, pad, group, share


CASES = {
    "pointwise": case([1, 40, 17, 19], [36, 40, 1, 1], 0),
    "im2col_5x5": case([2, 12, 21, 23], [20, 12, 5, 5], 2),
    "grouped": case([1, 24, 15, 15], [32, 6, 3, 3], 1, group=4),
    "taps_wide": case([1, 4, 30, 260], [8, 4, 3, 3], 1),
    "winograd_3x3": case([1, 32, 20, 20], [32, 32, 3, 3], 1),
    "winograd_per_run": case([8, 260, 16, 16], [264, 260, 3, 3], 1),
    "shared_weight": case([1, 40, 9, 9], [36, 40, 3, 3], 1, share=True),
    # 3-D: packed per depth tap (nn_conv_depth); of depth 1 (packed whole, unpacked for
    # nn_conv_depth); a kernel over 16 wide, which nn_conv_depth declines (the per-tap packs
    # unpacked for the direct im2col)
    "3d_depth_taps": case([1, 4, 5, 9, 9], [6, 4, 3, 3, 3], 1),
    "3d_depth_one": case([1, 4, 3, 7, 8], [6, 4, 1, 3, 3], 1),
    "3d_wide_kernel": case([1, 3, 3, 4, 20], [5, 3, 2, 1, 17], 0),
}


def gemm_case(op, xshape, wshape, trans_b=0, act=None, bias=True):
    """Gemm (x @ op(W) + B) or MatMul (x @ W, batched x) with constant W, which the model then
    keeps only packed: more than one row, a single row and a few rows (the few-row path over
    the packed panels, gemv.h), a single output column, a fused activation."""
    w = (RNG.standard_normal(wshape) / np.sqrt(wshape[1 if trans_b else 0])).astype(np.float32)
    n = wshape[0] if trans_b else wshape[1]
    b = RNG.standard_normal(n).astype(np.float32)
    inits = [numpy_helper.from_array(w, "W")]
    if op == "Gemm":
        ins = ["x", "W"] + (["B"] if bias else [])
        nodes = [helper.make_node("Gemm", ins, ["g"], transB=trans_b)]
    else:
        nodes = [helper.make_node("MatMul", ["x", "W"], ["m"])]
        if bias:
            nodes.append(helper.make_node("Add", ["m", "B"], ["g"]))
        else:
            nodes[0].output[0] = "g"
    if bias:
        inits.append(numpy_helper.from_array(b, "B"))
    nodes.append(helper.make_node(act or "Identity", ["g"], ["y"]))
    graph = helper.make_graph(
        nodes, "packed_" + op, [helper.make_tensor_value_info("x", TensorProto.FLOAT, xshape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)

    def ref(x):
        y = x.astype(np.float64) @ (w.T if trans_b else w).astype(np.float64)
        y = y + (b if bias else 0)
        if act == "Relu":
            y = np.maximum(y, 0)
        if act == "Sigmoid":
            y = 1 / (1 + np.exp(-y))
        return y
    return graph, ref


GEMM_CASES = {
    "gemm_rows": gemm_case("Gemm", [5, 70], [70, 40]),
    "gemm_one_row_transB": gemm_case("Gemm", [1, 300], [1000, 300], trans_b=1),
    "gemm_one_row_relu": gemm_case("Gemm", [1, 64], [64, 33], act="Relu"),
    "gemm_three_rows_sigmoid": gemm_case("Gemm", [3, 520], [70, 520], trans_b=1, act="Sigmoid"),
    "gemm_one_column": gemm_case("Gemm", [2, 30], [30, 1], bias=False),
    "matmul_batched": gemm_case("MatMul", [2, 7, 48], [48, 36]),
    "matmul_one_row": gemm_case("MatMul", [1, 1, 300], [300, 129]),
    "matmul_vector": gemm_case("MatMul", [300], [300, 20], bias=False),
}


def run_tool(tool, d, name, graph, x):
    model, x_path = os.path.join(d, name + ".onnx"), os.path.join(d, name + ".npy")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    np.save(x_path, x)
    out = os.path.join(d, name)
    os.mkdir(out)
    r = subprocess.run([tool, "run", model, "--input", "x=" + x_path, "--output-dir", out],
                       capture_output=True, text=True, timeout=120)
    return r, out


def check(tool, d, name, graph, ref, failed):
    """Runs graph on a random x and compares y with ref(x); returns the output dir, or None
    if the run failed."""
    xshape = [dim.dim_value for dim in graph.input[0].type.tensor_type.shape.dim]
    x = RNG.standard_normal(xshape).astype(np.float32)
    r, out = run_tool(tool, d, name, graph, x)
    if r.returncode != 0:
        failed.append("%s: %s" % (name, r.stderr.strip()))
        return None
    y, want = np.load(os.path.join(out, "y.npy")), ref(x)
    err = np.abs(y - want).max() / max(np.abs(want).max(), 1e-6)
    if y.shape != want.shape or not err < 1e-5:
        failed.append("%s: shape %s, relative error %g" % (name, y.shape, err))
    print("%-24s %s" % (name, "x".join(map(str, y.shape))))
    return out


def main():
    tool = sys.argv[1]
    failed = []
    with tempfile.TemporaryDirectory() as d:
        for name, (graph, ref) in GEMM_CASES.items():
            check(tool, d, name, graph, ref, failed)
        for name, (graph, w, b, pad, group, share) in CASES.items():
            out = check(tool, d, name, graph,
                        lambda x, w=w, b=b, pad=pad, group=group: conv_ref(x, w, b, pad, group),
                        failed)
            if out and share:
                if not np.array_equal(np.load(os.path.join(out, "W.npy")), w):
                    failed.append("%s: the shared weight lost its data" % name)
                if not np.array_equal(np.load(os.path.join(out, "w2.npy")), w + w):
                    failed.append("%s: the other reader got wrong data" % name)
    for f in failed:
        print("FAIL", f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
