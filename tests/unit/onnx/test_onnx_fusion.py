#!/usr/bin/python3
"""Load-time fusions give the same answers as the unfused graph: each model is run twice with
inferd-onnx, once as is (fused) and once with the intermediate values also exposed as graph
outputs (which blocks fusion), and `info` must show fewer nodes for the fused one.
Usage: test_onnx_fusion.py PATH/TO/inferd-onnx"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(3)


def const(name, shape, positive=False):
    a = RNG.standard_normal(shape).astype(np.float32)
    if positive:
        a = np.abs(a) + 0.5
    return numpy_helper.from_array(a, name)


def conv_bn_act(act, attrs=None, extra_inits=(), act_inputs=None):
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], epsilon=1e-3),
        helper.make_node(act, act_inputs or ["n"], ["y"], **(attrs or {})),
    ]
    inits = [const("W", (4, 3, 3, 3)), const("B", (4,)), const("s", (4,)), const("bb", (4,)),
             const("m", (4,)), const("v", (4,), positive=True)] + list(extra_inits)
    return nodes, inits, ("x", [2, 3, 5, 5]), ["c", "n"]


def matmul_add_act(act, attrs=None):
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["p"]),
        helper.make_node("Add", ["p", "b"], ["q"]),
        helper.make_node(act, ["q"], ["y"], **(attrs or {})),
    ]
    return nodes, [const("W", (6, 5)), const("b", (5,))], ("x", [3, 6]), ["p", "q"]


def gemm_act(act, attrs=None):
    nodes = [
        helper.make_node("Gemm", ["x", "W", "C"], ["g"], transB=1),
        helper.make_node(act, ["g"], ["y"], **(attrs or {})),
    ]
    return nodes, [const("W", (5, 6)), const("C", (5,))], ("x", [3, 6]), ["g"]


def bn_act(act, attrs=None):
    """DenseNet's pre-activation: BatchNormalization (not after a Conv) -> activation."""
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["n"], epsilon=1e-3),
        helper.make_node(act, ["n"], ["y"], **(attrs or {})),
    ]
    inits = [const("s", (4,)), const("bb", (4,)), const("m", (4,)), const("v", (4,), positive=True)]
    return nodes, inits, ("x", [2, 4, 5, 3]), ["n"]


def scalar(name, v):
    return numpy_helper.from_array(np.array(v, np.float32), name)


def matmul_add_gelu():
    """MatMul + bias + the exact GELU as torch exports it: one MatMul node when fused."""
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["p"]),
        helper.make_node("Add", ["b", "p"], ["q"]),
        helper.make_node("Div", ["q", "sq2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["a"]),
        helper.make_node("Mul", ["q", "a"], ["m"]),
        helper.make_node("Mul", ["m", "half"], ["y"]),
    ]
    inits = [const("W", (6, 5)), const("b", (5,)), scalar("sq2", np.sqrt(2)), scalar("one", 1), scalar("half", 0.5)]
    return nodes, inits, ("x", [3, 6]), ["q", "d", "e", "a", "m"]


def gelu_half_first():
    """GELU with the 0.5 applied to x first (BERT's code), on a graph input: a Gelu node."""
    nodes = [
        helper.make_node("Mul", ["x", "half"], ["h"]),
        helper.make_node("Mul", ["x", "isq2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["one", "e"], ["a"]),
        helper.make_node("Mul", ["h", "a"], ["y"]),
    ]
    inits = [scalar("isq2", 1 / np.sqrt(2)), scalar("one", 1), scalar("half", 0.5)]
    return nodes, inits, ("x", [4, 7]), ["h", "d", "e", "a"]


def conv_bn_silu():
    """Conv + BN + SiLU as torch exports nn.SiLU (Mul(n, Sigmoid(n))): one Conv node."""
    nodes, inits, inp, _ = conv_bn_act("Sigmoid")
    nodes[2] = helper.make_node("Sigmoid", ["n"], ["sg"])
    nodes.append(helper.make_node("Mul", ["n", "sg"], ["y"]))
    return nodes, inits, inp, ["c", "n", "sg"]


def silu_input():
    """SiLU of a graph input, the Sigmoid as Mul's first operand: one Silu node; the values
    span the range where sigmoid saturates."""
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["s", "x"], ["y"])]
    return nodes, [], ("x", [4, 7]), ["s"]


def squeeze_excite(silu):
    """Squeeze-and-excitation: MobileNetV3's (Relu, HardSigmoid, Mul(x, s)) or EfficientNet's
    (SiLU, Sigmoid, Mul(s, x)): one SqueezeExcite node."""
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["g"]),
             helper.make_node("Conv", ["g", "W1", "B1"], ["a"])]
    if silu:
        nodes += [helper.make_node("Sigmoid", ["a"], ["as"]), helper.make_node("Mul", ["a", "as"], ["ar"]),
                  helper.make_node("Conv", ["ar", "W2"], ["s0"]), helper.make_node("Sigmoid", ["s0"], ["s"]),
                  helper.make_node("Mul", ["s", "x"], ["y"])]
        inner = ["g", "a", "as", "ar", "s0", "s"]
    else:
        nodes += [helper.make_node("Relu", ["a"], ["ar"]), helper.make_node("Conv", ["ar", "W2", "B2"], ["s0"]),
                  helper.make_node("HardSigmoid", ["s0"], ["s"], alpha=1 / 6, beta=0.5),
                  helper.make_node("Mul", ["x", "s"], ["y"])]
        inner = ["g", "a", "ar", "s0", "s"]
    inits = [const("W1", (3, 8, 1, 1)), const("B1", (3,)), const("W2", (8, 3, 1, 1)), const("B2", (8,))]
    return nodes, inits, ("x", [2, 8, 5, 6]), inner


def squeeze_excite_over(read_after):
    """SqueezeExcite of a node's output: it writes Y over X, its only reader (read_after 0); with
    X read again after it by an Add (read_after 1) it must write a buffer of its own."""
    nodes, inits, (_, shape), inner = squeeze_excite(True)
    nodes = [helper.make_node("Relu", ["x0"], ["x"])] + nodes
    if read_after:
        nodes[-1] = helper.make_node("Mul", ["s", "x"], ["ys"])
        nodes.append(helper.make_node("Add", ["ys", "x"], ["y"]))
        inner = inner + ["ys"]
    return nodes, inits, ("x0", shape), inner


def attention_heads(q4, k4, v4):
    """Heads [batch, seq, heads, d] of q4, k4, v4 into scaled scores, softmax, heads merged back."""
    return [
        helper.make_node("Transpose", [q4], ["q"], perm=[0, 2, 1, 3]),
        helper.make_node("Transpose", [k4], ["kt"], perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", [v4], ["v"], perm=[0, 2, 1, 3]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "c"], ["ss"]),
        helper.make_node("Softmax", ["ss"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["o"]),
        helper.make_node("Transpose", ["o"], ["y"], perm=[0, 2, 1, 3]),
    ]


def attention():
    """Heads split by Reshape + Transpose, scaled scores, softmax, heads merged back: the
    transposes fold into the MatMuls and the scale into the first one."""
    nodes = [helper.make_node("Reshape", ["x", "shp"], ["x4"])] + attention_heads("x4", "x4", "x4")
    inits = [numpy_helper.from_array(np.array([2, 5, 3, 4], np.int64), "shp"), scalar("c", 0.5)]
    return nodes, inits, ("x", [2, 5, 12]), ["q", "kt", "v", "s", "o"]


def attention_split(opset13=True, axis=-1, x_shape=(2, 5, 36), proj=False):
    """One projection's output split into Q, K and V (Split on the last axis, then Reshapes into
    heads, one with 0 and one with -1 in its shape): the Split and Reshapes go, and the MatMuls
    read their columns of the projection in place. The last axis may be written as rank - 1;
    on another axis (x_shape [2, 36, 5]: the Reshapes still fit) nothing of it fuses. proj: the
    split input is a projection x @ W + b of x [2, 5, 8], its rank known through them."""
    src = "xp" if proj else "x"
    split_in = [src, "sizes"] if opset13 else [src]
    split_attrs = {} if opset13 else {"split": [12, 12, 12]}
    nodes = [
        helper.make_node("Split", split_in, ["qs", "ks", "vs"], axis=axis, **split_attrs),
        helper.make_node("Reshape", ["qs", "shp_q"], ["q4"]),
        helper.make_node("Reshape", ["ks", "shp_k"], ["k4"]),
        helper.make_node("Reshape", ["vs", "shp_v"], ["v4"]),
    ] + attention_heads("q4", "k4", "v4")
    inits = [numpy_helper.from_array(np.array([2, 5, 3, 4], np.int64), "shp_q"),
             numpy_helper.from_array(np.array([0, 5, 3, 4], np.int64), "shp_k"),
             numpy_helper.from_array(np.array([-1, 5, 3, 4], np.int64), "shp_v"), scalar("c", 0.5)]
    if opset13:
        inits.append(numpy_helper.from_array(np.array([12, 12, 12], np.int64), "sizes"))
    if proj:
        nodes = [helper.make_node("MatMul", ["x", "Wp"], ["xm"]),
                 helper.make_node("Add", ["xm", "bp"], ["xp"])] + nodes
        inits += [const("Wp", (8, 36)), const("bp", (36,))]
        x_shape = (2, 5, 8)
    return nodes, inits, ("x", list(x_shape)), ["qs", "ks", "vs", "s", "o"]


def matmul_add_residual():
    """MatMul + bias + residual (the graph input itself): one MatMul node."""
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["p"]),
        helper.make_node("Add", ["p", "b"], ["q"]),
        helper.make_node("Add", ["x", "q"], ["y"]),
    ]
    return nodes, [const("W", (6, 6)), const("b", (6,))], ("x", [3, 6]), ["p", "q"]


def channels_first_tail(scale_shape=(6, 1, 1)):
    """ConvNeXt's block: NCHW -> channels-last -> MatMul + bias (through an Identity, as torch
    exports them) -> back to NCHW -> layer scale -> residual: one MatMul (the first transpose
    read through perm_a: a 1x1 convolution)."""
    nodes = [
        helper.make_node("Identity", ["b0"], ["b"]),
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("MatMul", ["t", "W"], ["p"]),
        helper.make_node("Add", ["b", "p"], ["q"]),
        helper.make_node("Transpose", ["q"], ["u"], perm=[0, 3, 1, 2]),
        helper.make_node("Mul", ["s", "u"], ["m"]),
        helper.make_node("Add", ["m", "x"], ["y"]),
    ]
    inits = [const("W", (6, 6)), const("b0", (6,)), const("s", scale_shape)]
    return nodes, inits, ("x", [2, 6, 3, 5]), ["t", "p", "q", "u", "m"]


def channels_first_shared_w():
    """Two channels-first MatMuls reading one W: the scale cannot be folded into the shared W,
    so its Mul stays; the answer must not change."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("MatMul", ["t", "W"], ["p1"]),
        helper.make_node("Transpose", ["p1"], ["u1"], perm=[0, 3, 1, 2]),
        helper.make_node("Mul", ["u1", "s"], ["m1"]),
        helper.make_node("MatMul", ["t", "W"], ["p2"]),
        helper.make_node("Transpose", ["p2"], ["u2"], perm=[0, 3, 1, 2]),
        helper.make_node("Add", ["m1", "u2"], ["y"]),
    ]
    inits = [const("W", (6, 4)), const("s", (1, 4, 1, 1))]
    return nodes, inits, ("x", [1, 6, 7, 3]), ["p1", "u1", "p2", "u2"]


def layernorm_clast(with_bias=True, c=20):
    """ConvNeXt after its depthwise convolution: NCHW -> channels-last -> LayerNorm over the
    channels (opset 17): one LayerNormalization reading NCHW (positions in blocks of 16, so
    15 x 3 leaves a partial block)."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("LayerNormalization", ["t", "g"] + (["be"] if with_bias else []), ["y"],
                         axis=-1, epsilon=1e-6),
    ]
    inits = [const("g", (c,))] + ([const("be", (c,))] if with_bias else [])
    return nodes, inits, ("x", [2, c, 15, 3]), ["t"]
def layernorm_cfirst(with_bias=True, c=20, shape=(15, 3)):
    """ConvNeXt before a downsampling Conv: NCHW -> channels-last -> LayerNorm -> back to NCHW:
    one LayerNormalization reading and writing channels-first (a partial block of positions;
    rank 3 as well)."""
    r = 2 + len(shape)
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0] + list(range(2, r)) + [1]),
        helper.make_node("LayerNormalization", ["t", "g"] + (["be"] if with_bias else []), ["n"],
                         axis=-1, epsilon=1e-6),
        helper.make_node("Transpose", ["n"], ["y"], perm=[0, r - 1] + list(range(1, r - 1))),
    ]
    inits = [const("g", (c,))] + ([const("be", (c,))] if with_bias else [])
    return nodes, inits, ("x", [2, c] + list(shape)), ["t", "n"]


def identity_weights():
    """MatMul + bias + Relu whose weight and bias come through Identity nodes (opset 14+, as
    PyTorch exports weights shared between layers): the Identities fold into constants at load,
    so the three fuse into one MatMul."""
    nodes = [
        helper.make_node("Identity", ["W"], ["wi"]),
        helper.make_node("Identity", ["b"], ["bi"]),
        helper.make_node("MatMul", ["x", "wi"], ["p"]),
        helper.make_node("Add", ["bi", "p"], ["q"]),
        helper.make_node("Relu", ["q"], ["y"]),
    ]
    return nodes, [const("W", (6, 5)), const("b", (5,))], ("x", [3, 6]), ["p", "q"]


def act_dw(act, act_inputs=None, extra_inits=(), strides=(1, 1), kernel=(3, 3), nan=False):
    """1x1 Conv, activation, depthwise Conv: the activation moves into the depthwise Conv's
    input gather (or, for a kernel the phase path does not take, a pass of its own)."""
    pads = [kernel[0] // 2, kernel[1] // 2] * 2
    nodes = [
        helper.make_node("Conv", ["x", "W1"], ["c"]),
        helper.make_node(act, act_inputs or ["c"], ["a"]),
        helper.make_node("Conv", ["a", "Wd", "Bd"], ["y"], group=4, strides=list(strides), pads=pads),
    ]
    inits = [const("W1", (4, 3, 1, 1)), const("Wd", (8, 1) + tuple(kernel)), const("Bd", (8,))]
    if nan:  # a NaN weight: Relu(NaN) must be 0 on the fused path as in Relu itself
        inits[0] = numpy_helper.from_array(np.where(np.arange(12).reshape(4, 3, 1, 1) == 5, np.nan, 1.0).astype(np.float32), "W1")
    return nodes, inits + list(extra_inits), ("x", [2, 3, 9, 20]), ["c", "a"]


CLIP06 = [numpy_helper.from_array(np.array(0, np.float32), "lo"), numpy_helper.from_array(np.array(6, np.float32), "hi")]

CASES = {
    "clip_dw": act_dw("Clip", ["c", "lo", "hi"], CLIP06),
    "clip_dw_s2": act_dw("Clip", ["c", "lo", "hi"], CLIP06, strides=(2, 2)),
    "relu_dw_nan": act_dw("Relu", nan=True),
    "relu_dw_k17": act_dw("Relu", kernel=(1, 17)),
    "conv_bn_relu": conv_bn_act("Relu"),
    "conv_bn_clip": conv_bn_act("Clip", extra_inits=[numpy_helper.from_array(np.array(-0.5, np.float32), "lo"),
                                                   numpy_helper.from_array(np.array(0.7, np.float32), "hi")],
                                act_inputs=["n", "lo", "hi"]),
    "conv_bn_leaky": conv_bn_act("LeakyRelu", {"alpha": 0.2}),
    "bn_relu": bn_act("Relu"),
    "bn_leaky": bn_act("LeakyRelu", {"alpha": 0.3}),
    "matmul_add_relu": matmul_add_act("Relu"),
    "matmul_add_sigmoid": matmul_add_act("Sigmoid"),
    "matmul_add_tanh": matmul_add_act("Tanh"),
    "gemm_hardsigmoid": gemm_act("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
    "gemm_elu": gemm_act("Elu", {"alpha": 0.7}),
    "gemm_hardswish": gemm_act("HardSwish"),
    "matmul_add_gelu": matmul_add_gelu(),
    "gelu_half_first": gelu_half_first(),
    "attention": attention(),
    "attention_split": attention_split(),
    "attention_split_opset11": attention_split(False),
    "attention_split_axis2": attention_split(axis=2),
    "attention_split_opset11_axis2": attention_split(False, axis=2),
    "attention_split_proj_axis2": attention_split(axis=2, proj=True),
    "attention_split_axis1": attention_split(axis=1, x_shape=(2, 36, 5)),
    "attention_split_axis_minus2": attention_split(axis=-2, x_shape=(2, 36, 5)),
    "conv_bn_silu": conv_bn_silu(),
    "silu_input": silu_input(),
    "squeeze_excite": squeeze_excite(False),
    "squeeze_excite_silu": squeeze_excite(True),
    "squeeze_excite_over_x": squeeze_excite_over(0),
    "squeeze_excite_x_read_after": squeeze_excite_over(1),
    "matmul_add_residual": matmul_add_residual(),
    "channels_first_tail": channels_first_tail(),
    "channels_first_tail_4d_scale": channels_first_tail((1, 6, 1, 1)),
    "channels_first_shared_w": channels_first_shared_w(),
    "layernorm_clast": layernorm_clast(),
    "layernorm_clast_no_bias": layernorm_clast(False, 7),
    "layernorm_cfirst": layernorm_cfirst(),
    "layernorm_cfirst_no_bias_3d": layernorm_cfirst(False, 7, (37,)),
    "identity_weights": identity_weights(),
}
OPSET = {"layernorm_clast": 17, "layernorm_clast_no_bias": 17, "layernorm_cfirst": 17,
         "layernorm_cfirst_no_bias_3d": 17, "attention_split_opset11": 11,
         "attention_split_opset11_axis2": 11}


# cases that must fuse into exactly this many nodes
EXPECT_NODES = {"attention_split": 3, "attention_split_opset11": 3, "attention_split_axis2": 3,
                "attention_split_opset11_axis2": 3, "attention_split_proj_axis2": 4, "identity_weights": 1, "layernorm_clast": 1, "layernorm_clast_no_bias": 1, "layernorm_cfirst": 1, "layernorm_cfirst_no_bias_3d": 1, "channels_first_tail": 1, "channels_first_tail_4d_scale": 1, "bn_relu": 1, "bn_leaky": 1, "conv_bn_silu": 1, "silu_input": 1, "squeeze_excite": 1, "squeeze_excite_silu": 1, "squeeze_excite_over_x": 2, "squeeze_excite_x_read_after": 3}


def save(path, nodes, inits, inp, outputs, opset=14):
    graph = helper.make_graph(
        nodes, "fusion", [helper.make_tensor_value_info(inp[0], TensorProto.FLOAT, inp[1])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, path)


def run(tool, args):
    r = subprocess.run([tool] + args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def exec_nodes(tool, model):
    m = re.search(r"(\d+) after folding and fusion", run(tool, ["info", model]))
    return int(m.group(1))


# cases whose Split must stay (not on the last axis): more nodes than the fused split's 3
SPLIT_KEPT = ("attention_split_axis1", "attention_split_axis_minus2")


# inferd_split_a given by the model file itself, out of range or not a head split: an error, not
# a crash or a read outside the input
BAD_SPLITS = {"past_the_end": [30, 12, 2, 5, 3, 4], "negative": [-1, 12, 2, 5, 3, 4],
              "not_heads": [0, 12, 2, 5, 4, 4], "no_shape": [0, 12], "huge_dims": [0, 12, 0, 2**62, 3, 4]}


def check_bad_splits(tool, d):
    for name, ints in BAD_SPLITS.items():
        nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], inferd_split_a=ints)]
        path = os.path.join(d, "bad_" + name + ".onnx")
        save(path, nodes, [const("W", (4, 2))], ("x", [2, 5, 36]), ["y"])
        xin = os.path.join(d, "xbad.npy")
        np.save(xin, RNG.standard_normal((2, 5, 36)).astype(np.float32))
        r = subprocess.run([tool, "run", path, "--input", "x=" + xin, "--output-dir",
                            os.path.join(d, "bad")], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "MatMul" in r.stderr, (name, r.returncode, r.stderr)
        print("ok bad split", name)


def main():
    tool = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        check_bad_splits(tool, d)
        for name, (nodes, inits, inp, inner) in CASES.items():
            fused, plain = os.path.join(d, name + ".onnx"), os.path.join(d, name + "_plain.onnx")
            opset = OPSET.get(name, 14)
            save(fused, nodes, inits, inp, ["y"], opset)
            save(plain, nodes, inits, inp, ["y"] + inner, opset)
            n_fused = exec_nodes(tool, fused)
            assert n_fused < exec_nodes(tool, plain), name
            assert n_fused == EXPECT_NODES.get(name, n_fused), (name, n_fused)
            assert name not in SPLIT_KEPT or n_fused > 3, (name, n_fused)
            x = RNG.standard_normal(inp[1]).astype(np.float32)
            if name == "silu_input":
                x *= 40
            xin = os.path.join(d, "x.npy")
            np.save(xin, x)
            outs = []
            for model, sub in ((fused, "f"), (plain, "p")):
                out = os.path.join(d, name + sub)
                run(tool, ["run", model, "--input", inp[0] + "=" + xin, "--output-dir", out])
                outs.append(np.load(os.path.join(out, "y.npy")))
            np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-5, err_msg=name)
            print("ok", name)


if __name__ == "__main__":
    main()
