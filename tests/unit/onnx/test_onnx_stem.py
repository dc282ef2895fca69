#!/usr/bin/python3
"""A network's stem Conv (3x3 stride 2 on 1-4 input channels: ops/conv_stem.c, AVX-512, its
im2col made per output row) against a float64 numpy reference: input channels 1-4 and 5 (the
GEMM path beside it), output channels not a multiple of the kernel's 4, output rows narrower
than one 16-column vector, a tail vector, 64-column blocks and their remainders, pads 0 / 2 /
uneven, odd input sizes, batch 2, without bias, a fused residual, and every activation the
store applies (Relu, Clip, HardSwish, SiLU) or leaves to a pass (LeakyRelu: the GEMM path);
on 1 and 2 threads.
Usage: test_onnx_stem.py PATH/TO/inferd-onnx"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(23)


def conv_ref(x, w, b, pads):
    """x N x C x H x W, w M x C x 3 x 3, stride 2, pads [top, left, bottom, right]"""
    x = x.astype(np.float64)
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - 3) // 2 + 1
    ow = (wd + pads[1] + pads[3] - 3) // 2 + 1
    y = np.zeros((n, w.shape[0], oh, ow))
    for i in range(3):
        for j in range(3):
            win = xp[:, :, i:i + 2 * (oh - 1) + 1:2, j:j + 2 * (ow - 1) + 1:2]
            y += np.einsum("nchw,mc->nmhw", win, w[:, :, i, j].astype(np.float64))
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


ACTS = {None: lambda v: v, "Relu": lambda v: np.maximum(v, 0),
        "Clip": lambda v: np.clip(v, 0, 6),
        "HardSwish": lambda v: v * np.clip(v / 6 + 0.5, 0, 1),
        "Silu": lambda v: v / (1 + np.exp(-v)),
        "LeakyRelu": lambda v: np.where(v >= 0, v, 0.01 * v)}


def stem_case(c, m, hw, pads=(1, 1, 1, 1), n=1, bias=True, residual=False, act=None):
    """Conv(3x3, stride 2) [+ Add(r)] [+ act]: the fusions put residual and act into the Conv"""
    w = (RNG.standard_normal((m, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = RNG.standard_normal(m).astype(np.float32) if bias else None
    inits = [numpy_helper.from_array(w, "W")] + ([numpy_helper.from_array(b, "B")] if bias else [])
    oh = (hw[0] + pads[0] + pads[2] - 3) // 2 + 1
    ow = (hw[1] + pads[1] + pads[3] - 3) // 2 + 1
    inputs = {"x": [n, c] + list(hw)}
    if residual:
        inputs["r"] = [n, m, oh, ow]
    nodes = [helper.make_node("Conv", ["x", "W"] + (["B"] if bias else []), ["c"],
                              kernel_shape=[3, 3], strides=[2, 2], pads=list(pads))]
    last = "c"
    if residual:
        nodes.append(helper.make_node("Add", ["c", "r"], ["s"]))
        last = "s"
    if act == "Clip":
        inits += [numpy_helper.from_array(np.float32(v), k) for v, k in ((0, "lo"), (6, "hi"))]
        nodes.append(helper.make_node("Clip", [last, "lo", "hi"], ["a"]))
        last = "a"
    elif act == "Silu":  # Mul(x, Sigmoid(x)), fused into one Silu, then into the Conv
        nodes += [helper.make_node("Sigmoid", [last], ["g"]),
                  helper.make_node("Mul", [last, "g"], ["a"])]
        last = "a"
    elif act:
        nodes.append(helper.make_node(act, [last], ["a"]))
        last = "a"
    nodes.append(helper.make_node("Identity", [last], ["y"]))

    def ref(feeds):
        y = conv_ref(feeds["x"], w, b, pads)
        if residual:
            y = y + feeds["r"]
        return ACTS[act](y)
    return nodes, inits, inputs, ref


CASES = {
    "mobilenet_224": stem_case(3, 32, (224, 224), act="Clip"),
    "hswish_m16": stem_case(3, 16, (64, 70), act="HardSwish"),
    "silu_m13": stem_case(3, 13, (31, 33), act="Silu"),
    "relu_c1_m7": stem_case(1, 7, (9, 5), act="Relu"),
    "c2_m5_nobias": stem_case(2, 5, (20, 130), bias=False),
    "c4_m6_res": stem_case(4, 6, (17, 97), residual=True, act="Relu"),
    "pads0_odd": stem_case(3, 9, (35, 129), pads=(0, 0, 0, 0), act="Relu"),
    "pads2": stem_case(3, 8, (12, 34), pads=(2, 2, 2, 2)),
    "pads_uneven": stem_case(3, 4, (23, 67), pads=(0, 2, 1, 0), act="HardSwish"),
    "one_output": stem_case(3, 3, (3, 3), pads=(0, 0, 0, 0)),
    "narrow_tall": stem_case(3, 12, (99, 2), act="Silu"),
    "batch2_res": stem_case(3, 10, (40, 41), n=2, residual=True, act="Clip"),
    "leaky_gemm": stem_case(3, 8, (30, 30), act="LeakyRelu"),
    "c5_gemm": stem_case(5, 8, (30, 32), act="Relu"),
}


def run(tool, args):
    r = subprocess.run([tool] + args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def main():
    tool = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (nodes, inits, inputs, ref) in CASES.items():
            path = os.path.join(tmp, name + ".onnx")
            graph = helper.make_graph(
                nodes, name,
                [helper.make_tensor_value_info(k, TensorProto.FLOAT, s) for k, s in inputs.items()],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
            onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
            feeds = {k: RNG.standard_normal(s).astype(np.float32) for k, s in inputs.items()}
            args = []
            for k, v in feeds.items():
                np.save(os.path.join(tmp, k + ".npy"), v)
                args += ["--input", k + "=" + os.path.join(tmp, k + ".npy")]
            want = ref(feeds)
            for threads in ("1", "2"):
                out = os.path.join(tmp, name + "_" + threads)
                run(tool, ["run", path, "--output-dir", out, "--threads", threads] + args)
                y = np.load(os.path.join(out, "y.npy"))
                assert y.shape == want.shape, (name, y.shape, want.shape)
                np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4 * np.abs(want).max(),
                                           err_msg=name + " threads " + threads)
            print("ok", name)


if __name__ == "__main__":
    main()
