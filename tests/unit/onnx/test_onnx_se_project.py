#!/usr/bin/python3
"""Inverted residual blocks with squeeze-and-excitation (1x1 expand + act -> depthwise k x k +
act -> SE -> 1x1 project [+ residual Add]) against a float64 numpy reference, at 1 and 2
threads: the SE's gates multiplied into the project 1x1's weights or its input
(fuse_se_project.c, conv.c's conv_gated); batch 2, stride 2, k = 5, with and without residual.
Usage: test_onnx_se_project.py PATH/TO/inferd-onnx"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(17)


def dw_ref(x, w, b, s, pad):
    """x N x C x H x W (float64), w C x 1 x k x k, symmetric pads, stride s"""
    n, c, h, wd = x.shape
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - k) // s + 1
    ow = (wd + 2 * pad - k) // s + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(k):
        for j in range(k):
            win = xp[:, :, i:i + (oh - 1) * s + 1:s, j:j + (ow - 1) * s + 1:s]
            y += win * w[:, 0, i, j].astype(np.float64)[None, :, None, None]
    return y + b.astype(np.float64)[None, :, None, None]


def pw_ref(x, w, b):
    y = np.einsum("oc,nchw->nohw", w[:, :, 0, 0].astype(np.float64), x)
    return y + b.astype(np.float64)[None, :, None, None]


def hard_swish(v):
    return v * np.clip(v / 6 + 0.5, 0, 1)


ACTS = {None: lambda v: v, "Relu": lambda v: np.maximum(v, 0),
        "Relu6": lambda v: np.clip(v, 0, 6), "HardSwish": hard_swish,
        "Silu": lambda v: v / (1 + np.exp(-v))}


def act_nodes(act, src, dst):
    if act == "Relu6":
        return [helper.make_node("Clip", [src, "lo", "hi"], [dst])]
    if act == "Silu":
        return [helper.make_node("Sigmoid", [src], [dst + "_g"]),
                helper.make_node("Mul", [src, dst + "_g"], [dst])]
    return [helper.make_node(act, [src], [dst])]


def block(n, c_in, e, c_out, hw, k, s, expand_act="Relu6", dw_act="Relu6", residual=False,
          out_act=None, expand=True, se=False):
    """the block's nodes, initializers, input shape, reference and node count once fused"""
    arr = {}
    if expand:
        arr["W1"] = (RNG.standard_normal((e, c_in, 1, 1)) / np.sqrt(c_in)).astype(np.float32)
        arr["B1"] = RNG.standard_normal(e).astype(np.float32)
    else:
        e = c_in
    arr["Wd"] = (RNG.standard_normal((e, 1, k, k)) / k).astype(np.float32)
    arr["Bd"] = RNG.standard_normal(e).astype(np.float32)
    if se:
        arr["Ws1"] = (RNG.standard_normal((e // 4, e, 1, 1)) / np.sqrt(e)).astype(np.float32)
        arr["Bs1"] = RNG.standard_normal(e // 4).astype(np.float32)
        arr["Ws2"] = (RNG.standard_normal((e, e // 4, 1, 1)) / np.sqrt(e // 4)).astype(np.float32)
        arr["Bs2"] = RNG.standard_normal(e).astype(np.float32)
    arr["Wp"] = (RNG.standard_normal((c_out, e, 1, 1)) / np.sqrt(e)).astype(np.float32)
    arr["Bp"] = RNG.standard_normal(c_out).astype(np.float32)
    arr["lo"] = np.array(0, np.float32)
    arr["hi"] = np.array(6, np.float32)
    pad = k // 2
    nodes, last = [], "x"
    if expand:
        nodes.append(helper.make_node("Conv", ["x", "W1", "B1"], ["e"]))
        last = "e"
        if expand_act:
            nodes += act_nodes(expand_act, "e", "ea")
            last = "ea"
    nodes.append(helper.make_node("Conv", [last, "Wd", "Bd"], ["d"], group=e, kernel_shape=[k, k],
                                  strides=[s, s], pads=[pad] * 4))
    last = "d"
    if dw_act:
        nodes += act_nodes(dw_act, "d", "da")
        last = "da"
    if se:
        nodes += [helper.make_node("GlobalAveragePool", [last], ["sp"]),
                  helper.make_node("Conv", ["sp", "Ws1", "Bs1"], ["s1"]),
                  helper.make_node("Relu", ["s1"], ["s1a"]),
                  helper.make_node("Conv", ["s1a", "Ws2", "Bs2"], ["s2"]),
                  helper.make_node("Sigmoid", ["s2"], ["s2a"]),
                  helper.make_node("Mul", [last, "s2a"], ["sm"])]
        last = "sm"
    nodes.append(helper.make_node("Conv", [last, "Wp", "Bp"], ["p"]))
    last = "p"
    if residual:
        nodes.append(helper.make_node("Add", ["x", "p"], ["r"]))
        last = "r"
    if out_act:
        nodes += act_nodes(out_act, last, "o")
        last = "o"
    nodes.append(helper.make_node("Identity", [last], ["y"]))
    inits = [numpy_helper.from_array(v, name) for name, v in arr.items()]

    def ref(x):
        v = x.astype(np.float64)
        if expand:
            v = ACTS[expand_act](pw_ref(v, arr["W1"], arr["B1"]))
        v = ACTS[dw_act](dw_ref(v, arr["Wd"], arr["Bd"], s, pad))
        if se:
            g = pw_ref(v.mean(axis=(2, 3), keepdims=True), arr["Ws1"], arr["Bs1"])
            g = pw_ref(np.maximum(g, 0), arr["Ws2"], arr["Bs2"])
            v = v / (1 + np.exp(-g))
        v = pw_ref(v, arr["Wp"], arr["Bp"])
        if residual:
            v = v + x.astype(np.float64)
        return ACTS[out_act](v)
    # fused: the expansion and depthwise Conv, SqueezeExcite (its gates only), the gated 1x1,
    # and the Identity; without SE the projection stays a node of its own
    return nodes, inits, [n, c_in] + list(hw), ref, 4 if se else 3


CASES = {
    # SE between the depthwise Conv and the 1x1 (EfficientNet, MobileNetV3): the gates
    # multiplied into the 1x1's weights (one image, large planes) or into X (W not much
    # smaller than X, or a batch)
    "se_weights_res": block(1, 16, 96, 16, (28, 30), 3, 1, expand_act="Silu", dw_act="Silu",
                            residual=True, se=True),
    "se_weights_no_res": block(1, 24, 72, 16, (41, 45), 3, 2, se=True),
    "se_input_res_batch2": block(2, 16, 96, 16, (28, 30), 3, 1, expand_act="Silu",
                                 dw_act="Silu", residual=True, se=True),
    "se_input_k5_s2": block(2, 24, 144, 40, (9, 11), 5, 2, expand_act="HardSwish",
                            dw_act="HardSwish", se=True),
}


def run(tool, args):
    r = subprocess.run([tool] + args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def main():
    tool = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (nodes, inits, shape, ref, fused_nodes) in CASES.items():
            path = os.path.join(tmp, name + ".onnx")
            graph = helper.make_graph(
                nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
            onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
            m = re.search(r"(\d+) after folding and fusion", run(tool, ["info", path]))
            assert int(m.group(1)) == fused_nodes, (name, m.group(0))
            x = RNG.standard_normal(shape).astype(np.float32)
            xin = os.path.join(tmp, "x.npy")
            np.save(xin, x)
            want = ref(x)
            for threads in ("1", "2"):
                out = os.path.join(tmp, name + "_" + threads)
                run(tool, ["run", path, "--input", "x=" + xin, "--output-dir", out,
                           "--threads", threads])
                y = np.load(os.path.join(out, "y.npy"))
                assert y.shape == want.shape, (name, y.shape, want.shape)
                np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4 * np.abs(want).max(),
                                           err_msg=name + " threads " + threads)
            print("ok", name)


if __name__ == "__main__":
    main()
