#!/usr/bin/python3
"""Operators that split their work over the session's thread pool (Conv's gathers, im2col,
Winograd transforms and 3-D slices; Transpose; depthwise Conv, with and without the fused
expansion; unary and broadcast elementwise passes; MaxPool, AveragePool (by output rows, or
planes for 3-D windows), GlobalAveragePool; BatchNormalization (by positions or planes);
Softmax, LayerNorm, also reading channels-first; SqueezeExcite; the channels-first MatMul)
give bit for bit the outputs of one thread
at 2 and 3 threads: each task computes whole outputs in the one-thread order. Shapes are big
enough to pass the pool's size threshold and odd, so ranges end inside rows and planes; a
small case checks the inline path. A few are also checked against numpy.
Usage: test_onnx_thread_ops.py PATH/TO/inferd-onnx"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(11)


def const(name, shape):
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)


def depthwise(c, hw, k, stride, act="Clip"):
    """Depthwise Conv (+ bias, Clip fused)."""
    p = k // 2
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], group=c, kernel_shape=[k, k],
                              pads=[p, p, p, p], strides=[stride, stride]),
             helper.make_node(act, ["c", "lo", "hi"] if act == "Clip" else ["c"], ["y"])]
    inits = [const("W", (c, 1, k, k)), const("B", (c,)),
             numpy_helper.from_array(np.array(0, np.float32), "lo"),
             numpy_helper.from_array(np.array(6, np.float32), "hi")]
    return nodes, inits, [1, c, hw, hw], None


def depthwise_res(c, hw, k):
    """Depthwise Conv, stride 1, on a plane wide enough for the direct kernel, with a residual
    Add and a HardSwish applied after the kernel, not in its store."""
    p = k // 2
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], group=c, kernel_shape=[k, k],
                              pads=[p, p, p, p]),
             helper.make_node("Add", ["c", "x"], ["s"]),
             helper.make_node("HardSwish", ["s"], ["y"])]
    return nodes, [const("W", (c, 1, k, k)), const("B", (c,))], [1, c, hw, hw], None


def expand_depthwise(stride):
    """MobileNet's expansion (1x1 Conv + Clip) fused into the depthwise Conv that reads it:
    an expansion larger than L2, so it runs in bands."""
    c, e, hw = 16, 96, 113
    nodes = [helper.make_node("Conv", ["x", "We", "Be"], ["e"]),
             helper.make_node("Clip", ["e", "lo", "hi"], ["ec"]),
             helper.make_node("Conv", ["ec", "W", "B"], ["c"], group=e, kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1], strides=[stride, stride]),
             helper.make_node("Clip", ["c", "lo", "hi"], ["y"])]
    inits = [const("We", (e, c, 1, 1)), const("Be", (e,)), const("W", (e, 1, 3, 3)),
             const("B", (e,)), numpy_helper.from_array(np.array(0, np.float32), "lo"),
             numpy_helper.from_array(np.array(6, np.float32), "hi")]
    return nodes, inits, [1, c, hw, hw], None


def unary(op, shape):
    def ref(x):
        return {"Sigmoid": lambda v: 1 / (1 + np.exp(-v.astype(np.float64))),
                "Relu": lambda v: np.maximum(v, 0), "Neg": lambda v: -v}[op](x)
    return [helper.make_node(op, ["x"], ["y"])], [], shape, ref


def binary(op, shape, bshape):
    b = const("b", bshape)
    bv = numpy_helper.to_array(b)
    fn = {"Add": np.add, "Mul": np.multiply}[op]
    return [helper.make_node(op, ["x", "b"], ["y"])], [b], shape, lambda x: fn(x, bv)


def maxpool(k, stride, pad, dilation=1):
    return ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[k, k], strides=[stride] * 2,
                              pads=[pad] * 4, dilations=[dilation] * 2)], [], [2, 37, 41, 39], None)


def avgpool():
    return ([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1])], [], [2, 37, 41, 39], None)


def pool_b1(op, k, stride):
    """One image, no pads: the split over output rows of every plane, checked against numpy."""
    def ref(x):
        w = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
        return w.max(axis=(-2, -1)) if op == "MaxPool" else w.mean(axis=(-2, -1), dtype=np.float64)
    return ([helper.make_node(op, ["x"], ["y"], kernel_shape=[k, k], strides=[stride] * 2)], [],
            [1, 64, 57, 41], ref)


def maxpool_3d():
    return ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2, 2])], [],
            [1, 9, 9, 20, 22], None)


def batchnorm(shape, relu):
    """BatchNormalization (+ Relu fused): split by positions of every plane, or by planes."""
    c = shape[1]
    sc, b, m = (RNG.standard_normal(c).astype(np.float32) for _ in range(3))
    v = (RNG.random(c) + 0.5).astype(np.float32)
    inits = [numpy_helper.from_array(t, n) for t, n in ((sc, "sc"), (b, "bb"), (m, "m"), (v, "v"))]
    nodes = [helper.make_node("BatchNormalization", ["x", "sc", "bb", "m", "v"],
                              ["n" if relu else "y"])]
    if relu:
        nodes.append(helper.make_node("Relu", ["n"], ["y"]))
    r = lambda t: t.reshape(1, c, 1, 1).astype(np.float64)

    def ref(x):
        y = (x - r(m)) / np.sqrt(r(v) + 1e-5) * r(sc) + r(b)
        return np.maximum(y, 0) if relu else y
    return nodes, inits, shape, ref


def global_avg():
    return ([helper.make_node("GlobalAveragePool", ["x"], ["y"])], [], [3, 131, 23, 29],
            lambda x: x.astype(np.float64).mean(axis=(2, 3), keepdims=True))


def softmax(shape):
    def ref(x):
        e = np.exp(x.astype(np.float64) - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return [helper.make_node("Softmax", ["x"], ["y"], axis=-1)], [], shape, ref


def layernorm():
    return ([helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"], axis=-1)],
            [const("s", (259,)), const("b", (259,))], [3, 101, 259], None)


def layernorm_clast():
    """Transpose to channels-last + LayerNorm (ConvNeXt): one LayerNorm reading NCHW, split
    over blocks of 16 positions (57 x 23 ends in a partial block)."""
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("LayerNormalization", ["t", "s", "b"], ["y"], axis=-1)]

    def ref(x):
        t = x.transpose(0, 2, 3, 1).astype(np.float64)
        mu = t.mean(-1, keepdims=True)
        v = ((t - mu) ** 2).mean(-1, keepdims=True)
        return (t - mu) / np.sqrt(v + 1e-5) * s + b
    s, b = RNG.standard_normal(96).astype(np.float32), RNG.standard_normal(96).astype(np.float32)
    inits = [numpy_helper.from_array(s, "s"), numpy_helper.from_array(b, "b")]
    return nodes, inits, [2, 96, 57, 23], ref


def channels_first_mlp():
    """ConvNeXt's block tail: channels-last MatMul + bias, back to NCHW, layer scale, residual:
    one MatMul writing B^T X^T per image (the GEMM split over the pool)."""
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("MatMul", ["t", "W"], ["p"]), helper.make_node("Add", ["p", "bias"], ["q"]),
             helper.make_node("Transpose", ["q"], ["u"], perm=[0, 3, 1, 2]),
             helper.make_node("Mul", ["u", "g"], ["m"]), helper.make_node("Add", ["m", "x"], ["y"])]
    inits = [const("W", (72, 72)), const("bias", (72,)), const("g", (72, 1, 1))]
    return nodes, inits, [2, 72, 29, 31], None


def squeeze_excite():
    """EfficientNet's block (SiLU, Sigmoid, Mul(s, x)): one SqueezeExcite node."""
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["g"]),
             helper.make_node("Conv", ["g", "W1", "B1"], ["a"]),
             helper.make_node("Sigmoid", ["a"], ["as"]), helper.make_node("Mul", ["a", "as"], ["ar"]),
             helper.make_node("Conv", ["ar", "W2"], ["s0"]), helper.make_node("Sigmoid", ["s0"], ["s"]),
             helper.make_node("Mul", ["s", "x"], ["y"])]
    inits = [const("W1", (10, 97, 1, 1)), const("B1", (10,)), const("W2", (97, 10, 1, 1))]
    return nodes, inits, [2, 97, 27, 31], None


def conv(n, c, m, hw, k, stride, pad, relu=True, res=False, dims=2):
    """Conv (+ bias, Relu and a residual Add fused): by the shape, Winograd (3x3 stride 1, 16+
    channels), by taps (few channels, wide output), im2col from phase planes in blocks or of
    whole images side by side (batch > 1, small planes), a 1x1 strided gather, or 3-D by depth
    slices; the gathers, im2col and transforms split over rows or channels, blocks of output
    rows (one image, 2+ blocks per thread) over tasks that each unfold and multiply theirs."""
    ks, ss, ps = [k] * dims, [stride] * dims, [pad] * (2 * dims)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], kernel_shape=ks, strides=ss, pads=ps)]
    inits = [const("W", [m, c] + ks), const("B", (m,))]
    out = "c"
    if res:
        o = (hw + 2 * pad - k) // stride + 1
        inits.append(const("R", [n, m] + [o] * dims))
        nodes.append(helper.make_node("Add", ["c", "R"], ["ca"]))
        out = "ca"
    if relu:
        nodes.append(helper.make_node("Relu", [out], ["cr"]))
        out = "cr"
    nodes.append(helper.make_node("Identity", [out], ["y"]))
    return nodes, inits, [n, c] + [hw] * dims, None


def transpose(shape, perm):
    return ([helper.make_node("Transpose", ["x"], ["y"], perm=perm)], [], shape,
            lambda x: np.transpose(x, perm))


CASES = {
    "transpose_2d": transpose([3, 131, 257], [0, 2, 1]),
    "transpose_nd": transpose([5, 37, 7, 41], [2, 0, 3, 1]),
    "transpose_small": transpose([7, 5], [1, 0]),
    "conv_winograd": conv(1, 37, 41, 31, 3, 1, 1, res=True),
    "conv_winograd_b3": conv(3, 19, 23, 15, 3, 1, 1),
    "conv_wino4_wide": conv(1, 16, 64, 55, 3, 1, 1, res=True),  # F(4x4), SqueezeNet's Fire 2
    "conv_wino4_deep": conv(1, 300, 16, 36, 3, 1, 1),  # K = 300: two 256-long GEMM blocks
    "conv_wino4_b2": conv(2, 16, 32, 27, 3, 1, 1),  # F(4x4) tile rows of two images in a block
    "conv_taps": conv(1, 3, 17, 67, 3, 1, 1),
    "conv_phase_s2": conv(1, 29, 33, 57, 3, 2, 1, res=True),
    "conv_phase_b3": conv(3, 37, 33, 23, 3, 2, 1),
    "conv_blocks_s2": conv(1, 8, 32, 191, 3, 2, 1, res=True),  # 6 blocks of rows as tasks
    "conv_1x1_s2": conv(2, 45, 39, 81, 1, 2, 0),
    "conv_3d": conv(1, 16, 11, 21, 3, 1, 1, res=True, dims=3),
    "dw3x3_s1": depthwise(67, 57, 3, 1),
    "dw3x3_s2": depthwise(67, 57, 3, 2),
    "dw5x5_s2": depthwise(45, 41, 5, 2),
    "dw3x3_small": depthwise(8, 7, 3, 1),  # below the threshold: inline
    "dw5x5_s1_direct": depthwise(13, 61, 5, 1, act="HardSwish"),
    "dw3x3_res_direct": depthwise_res(11, 67, 3),
    "expand_dw_s1": expand_depthwise(1),
    "expand_dw_s2": expand_depthwise(2),
    "sigmoid": unary("Sigmoid", [3, 67, 1001]),
    "relu": unary("Relu", [3, 67, 1001]),
    "neg_small": unary("Neg", [7, 5]),
    "add_same": binary("Add", [3, 67, 1001], (3, 67, 1001)),
    "add_row": binary("Add", [3, 67, 1001], (1001,)),
    "mul_channel": binary("Mul", [2, 67, 33, 35], (67, 1, 1)),
    "maxpool_rows": maxpool(3, 2, 1),
    "maxpool_values": maxpool(3, 1, 1, dilation=2),
    "avgpool": avgpool(),
    "maxpool_b1_rows": pool_b1("MaxPool", 3, 2),
    "avgpool_b1_2x2": pool_b1("AveragePool", 2, 2),
    "maxpool_3d": maxpool_3d(),
    "global_avg": global_avg(),
    "bn_relu_positions": batchnorm([1, 96, 37, 41], True),
    "bn_planes": batchnorm([4, 131, 13, 13], False),
    "softmax": softmax([5, 131, 257]),
    "layernorm": layernorm(),
    "layernorm_clast": layernorm_clast(),
    "channels_first_mlp": channels_first_mlp(),
    "squeeze_excite": squeeze_excite(),
}


def save(path, nodes, inits, shape):
    graph = helper.make_graph(
        nodes, "threads", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def run(tool, model, x_path, out_dir, threads):
    r = subprocess.run([tool, "run", model, "--input", "x=" + x_path, "--output-dir", out_dir,
                        "--threads", str(threads)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (model, threads, r.stderr)
    return np.load(os.path.join(out_dir, "y.npy"))


def main():
    tool = sys.argv[1]
    failed = []
    with tempfile.TemporaryDirectory() as d:
        for name, (nodes, inits, shape, ref) in CASES.items():
            model, x_path = os.path.join(d, name + ".onnx"), os.path.join(d, name + ".npy")
            save(model, nodes, inits, shape)
            x = RNG.standard_normal(shape).astype(np.float32) * 3
            np.save(x_path, x)
            outs = {}
            for t in (1, 2, 3):
                out_dir = os.path.join(d, "%s_%d" % (name, t))
                os.mkdir(out_dir)
                outs[t] = run(tool, model, x_path, out_dir, t)
            for t in (2, 3):
                if outs[t].shape != outs[1].shape or outs[t].tobytes() != outs[1].tobytes():
                    diff = np.abs(outs[t].astype(np.float64) - outs[1]).max()
                    failed.append("%s: %d threads differ from 1 (max |diff| %g)" % (name, t, diff))
            if ref is not None and not np.allclose(outs[1], ref(x), rtol=1e-5, atol=1e-5):
                failed.append("%s: differs from numpy" % name)
            print("%-16s %s ok" % (name, "x".join(map(str, outs[1].shape))))
    for f in failed:
        print("FAIL", f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
