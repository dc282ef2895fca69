#!/usr/bin/python3
"""Depthwise Conv against a float64 numpy reference over the geometries its kernels split on:
small planes (16 channels side by side, ops/conv_dw_cblock.c: 5x5 to 7x7 taps, at most 64
outputs per plane, partial channel blocks), the per-plane paths next to them, strides and
dilations 1-2, uneven pads, with and without bias, a fused residual and fused activations;
and the 1x1 Conv + SiLU / HardSwish + depthwise Conv fusion (the 1x1's activation applied in
the expansion's store) against the same reference, small and banded (over 1 MiB).
Usage: test_onnx_depthwise.py PATH/TO/inferd-onnx"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(11)


def dw_ref(x, w, b, s, d, pads):
    """x N x C x H x W, w C x 1 x kh x kw (multiplier 1), pads [top, left, bottom, right]"""
    x = x.astype(np.float64)
    n, c, h, wd = x.shape
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - (kh - 1) * d[0] - 1) // s[0] + 1
    ow = (wd + pads[1] + pads[3] - (kw - 1) * d[1] - 1) // s[1] + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * d[0], j * d[1]
            win = xp[:, :, r0:r0 + (oh - 1) * s[0] + 1:s[0], c0:c0 + (ow - 1) * s[1] + 1:s[1]]
            y += win * w[:, 0, i, j].astype(np.float64)[None, :, None, None]
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


def silu(v):
    return v / (1 + np.exp(-v))


def hard_swish(v):
    return v * np.clip(v / 6 + 0.5, 0, 1)


ACTS = {None: lambda v: v, "Relu": lambda v: np.maximum(v, 0), "HardSwish": hard_swish,
        "Silu": silu}


def dw_case(c, hw, k, s=(1, 1), d=(1, 1), pads=None, bias=True, residual=False, act=None,
            pre=None):
    """[pre: Relu or Clip(0, 6) of x, which the Conv applies as it reads x] Conv(group = c)
    [+ Add(x)] [+ act]: the fusions put residual and act into the Conv"""
    pads = pads if pads is not None else [k[0] // 2 * d[0], k[1] // 2 * d[1]] * 2
    w = RNG.standard_normal((c, 1) + tuple(k)).astype(np.float32)
    b = RNG.standard_normal(c).astype(np.float32) if bias else None
    inits = [numpy_helper.from_array(w, "W")] + ([numpy_helper.from_array(b, "B")] if bias else [])
    nodes, xin = [], "x"
    if pre == "Relu":
        nodes, xin = [helper.make_node("Relu", ["x"], ["p"])], "p"
    elif pre == "Clip":
        inits += [numpy_helper.from_array(np.float32(v), n) for v, n in ((0, "lo"), (6, "hi"))]
        nodes, xin = [helper.make_node("Clip", ["x", "lo", "hi"], ["p"])], "p"
    nodes += [helper.make_node("Conv", [xin, "W"] + (["B"] if bias else []), ["c"], group=c,
                              kernel_shape=list(k), strides=list(s), dilations=list(d), pads=pads)]
    last = "c"
    if residual:
        nodes.append(helper.make_node("Add", ["c", "x"], ["r"]))
        last = "r"
    if act == "Silu":  # Mul(x, Sigmoid(x)), fused into one Silu, then into the Conv
        nodes += [helper.make_node("Sigmoid", [last], ["g"]),
                  helper.make_node("Mul", [last, "g"], ["a"])]
        last = "a"
    elif act:
        nodes.append(helper.make_node(act, [last], ["a"]))
        last = "a"
    nodes.append(helper.make_node("Identity", [last], ["y"]))
    shape = [2, c] + list(hw)

    def ref(x):
        xa = x if pre is None else np.maximum(x, 0) if pre == "Relu" else np.clip(x, 0, 6)
        y = dw_ref(xa, w, b, s, d, pads)
        if residual:
            y = y + x
        return ACTS[act](y)
    return nodes, inits, shape, ref


def expand_case(c_in, c, hw, k, s, act):
    """1x1 Conv (c_in -> c) + act (SiLU as Sigmoid * x, or HardSwish) + depthwise Conv"""
    pads = [k // 2] * 4
    w1 = (RNG.standard_normal((c, c_in, 1, 1)) / np.sqrt(c_in)).astype(np.float32)
    b1 = RNG.standard_normal(c).astype(np.float32)
    wd = RNG.standard_normal((c, 1, k, k)).astype(np.float32)
    bd = RNG.standard_normal(c).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "W1"), (b1, "B1"), (wd, "Wd"), (bd, "Bd"))]
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["e"])]
    if act == "Silu":
        nodes += [helper.make_node("Sigmoid", ["e"], ["g"]), helper.make_node("Mul", ["e", "g"], ["a"])]
        f = silu
    else:
        nodes += [helper.make_node("HardSwish", ["e"], ["a"])]
        f = hard_swish
    nodes.append(helper.make_node("Conv", ["a", "Wd", "Bd"], ["y"], group=c, kernel_shape=[k, k],
                                  strides=[s, s], pads=pads))

    def ref(x):
        e = np.einsum("oc,nchw->nohw", w1[:, :, 0, 0].astype(np.float64), x.astype(np.float64))
        e += b1.astype(np.float64)[None, :, None, None]
        return dw_ref(f(e), wd, bd, (s, s), (1, 1), pads)
    return nodes, inits, [1, c_in] + list(hw), ref


CASES = {
    # channel blocks: 5x5..7x7 taps, <= 64 outputs per plane, 16 + 4 / 33 channels
    "cb_k5_7x7": dw_case(20, (7, 7), (5, 5)),
    "cb_k5_7x7_s2": dw_case(33, (14, 13), (5, 5), s=(2, 2), pads=[2, 1, 2, 2]),
    "cb_k7_8x8_d2": dw_case(17, (8, 8), (7, 7), d=(2, 1), pads=[6, 3, 6, 3]),
    "cb_k5x7_nobias": dw_case(16, (5, 9), (5, 7), bias=False, pads=[1, 3, 3, 2]),
    "cb_k5_res_hswish": dw_case(20, (7, 7), (5, 5), residual=True, act="HardSwish"),
    "cb_k5_relu_1ch": dw_case(1, (4, 6), (5, 5), act="Relu"),
    # next to them: the per-plane paths
    "plane_k3_7x7": dw_case(20, (7, 7), (3, 3), act="Relu"),
    "plane_k5_14x14": dw_case(20, (14, 14), (5, 5), residual=True),
    "plane_k5_56_s2": dw_case(18, (56, 56), (5, 5), s=(2, 2), act="HardSwish"),
    "plane_k3_d2": dw_case(6, (20, 20), (3, 3), d=(2, 2), pre="Relu"),
    # straight from the input (conv_dw_direct.c, 3x3 / 5x5 stride 1): blocks of output rows
    # (3x3 stride 1: 8, else 4) and the last 1-7 / 1-3 as one shorter block, full and masked
    # 16-column vectors, rows and planes narrower than a vector, pads 0 / uneven, the input
    # activation in the loads, the output's in the store
    "direct_k3_61x50": dw_case(5, (61, 50), (3, 3), act="Relu", pre="Clip"),
    "direct_k3_7x7_res": dw_case(7, (7, 7), (3, 3), residual=True, act="Relu"),
    "direct_k3_1x1": dw_case(3, (1, 1), (3, 3)),
    "direct_k3_2x33_nopad": dw_case(4, (6, 33), (3, 3), pads=[0, 0, 0, 0], act="Silu"),
    "direct_k3_uneven": dw_case(3, (13, 17), (3, 3), pads=[2, 0, 1, 2], bias=False),
    "direct_k5_19x23": dw_case(6, (19, 23), (5, 5), act="HardSwish", pre="Relu"),
    "direct_k3_30x112_clip_in": dw_case(3, (30, 112), (3, 3), pre="Clip", residual=True),
    "direct_k5_14x14_pads": dw_case(5, (14, 14), (5, 5), pads=[4, 1, 0, 3], residual=True),
    # 3x3 stride 1 output heights 8 .. 23: every remainder of the 8-row blocks
    "direct_k3_rows8": dw_case(2, (8, 37), (3, 3), act="Relu"),
    "direct_k3_rows9": dw_case(2, (9, 21), (3, 3), pre="Clip"),
    "direct_k3_rows11": dw_case(2, (11, 16), (3, 3), residual=True),
    "direct_k3_rows12_nopad": dw_case(2, (14, 20), (3, 3), pads=[0, 0, 0, 0]),
    "direct_k3_rows18": dw_case(2, (18, 5), (3, 3), act="Silu"),
    "direct_k3_rows21": dw_case(2, (21, 33), (3, 3), act="HardSwish"),
    "direct_k3_rows23": dw_case(2, (23, 48), (3, 3), pre="Relu", residual=True),
    "direct_k5_rows6": dw_case(2, (6, 30), (5, 5), act="Relu"),
    "direct_k3_s2_rows6": dw_case(2, (12, 40), (3, 3), s=(2, 2)),
    # stride 2: even / odd columns by permutes, the last taps from the next 16 columns
    "direct_k3_s2_113x97": dw_case(4, (113, 97), (3, 3), s=(2, 2), act="Relu", pre="Clip"),
    "direct_k3_s2_nopad": dw_case(3, (34, 66), (3, 3), s=(2, 2), pads=[0, 0, 0, 0], act="Silu"),
    "direct_k3_silu_res": dw_case(3, (9, 40), (3, 3), residual=True, act="Silu"),
    "direct_k3_s2_7x7": dw_case(5, (7, 7), (3, 3), s=(2, 2), pads=[0, 1, 1, 2], bias=False),
    "direct_k5_s2_69x70": dw_case(3, (69, 70), (5, 5), s=(2, 2), pre="Relu", act="HardSwish"),
    "direct_k5_s2_uneven": dw_case(4, (29, 37), (5, 5), s=(2, 2), pads=[4, 3, 0, 1]),
    # 1x1 + activation + depthwise: whole, and in bands (the expansion over 1 MiB)
    "expand_silu_small": expand_case(8, 24, (14, 14), 3, 1, "Silu"),
    "expand_silu_bands": expand_case(16, 96, (56, 56), 3, 2, "Silu"),
    "expand_hswish_bands": expand_case(12, 80, (60, 60), 5, 1, "HardSwish"),
}
# cases that must fuse into one node
ONE_NODE = {"expand_silu_small", "expand_silu_bands", "expand_hswish_bands"}


def run(tool, args):
    r = subprocess.run([tool] + args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def main():
    tool = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (nodes, inits, shape, ref) in CASES.items():
            path = os.path.join(tmp, name + ".onnx")
            graph = helper.make_graph(
                nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
            onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
            if name in ONE_NODE:
                m = re.search(r"(\d+) after folding and fusion", run(tool, ["info", path]))
                assert int(m.group(1)) == 1, (name, m.group(0))
            x = RNG.standard_normal(shape).astype(np.float32)
            xin, out = os.path.join(tmp, "x.npy"), os.path.join(tmp, name)
            np.save(xin, x)
            run(tool, ["run", path, "--input", "x=" + xin, "--output-dir", out])
            y = np.load(os.path.join(out, "y.npy"))
            want = ref(x)
            assert y.shape == want.shape, (name, y.shape, want.shape)
            np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4 * np.abs(want).max(), err_msg=name)
            print("ok", name)


if __name__ == "__main__":
    main()
