#!/usr/bin/python3
"""Batch slicing (src/onnx/batch.c): a model whose every node maps samples to samples runs a
large batch a slice at a time. Each sliceable model here (symbolic batch dim) must report a
slice in `inferd-onnx info`, and its batch-5 outputs must equal the five batch-1 runs (slices
of one sample are batch-1 runs, so bit for bit) and agree with numpy. Models with a node
outside the whitelist must report no slice and still be right. (Batches under 64 KB of inputs
run whole, so the sliceable models here take inputs above that at batch 5.)
Usage: test_onnx_batch_slice.py PATH/TO/inferd-onnx"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(7)
N = 5


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def conv2d(x, w, b, pad):
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.zeros((n, m, oh, ow), np.float64)
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nchw,mc->nmhw", xp[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return (y + b.reshape(1, -1, 1, 1)).astype(np.float32)


def cnn():
    """Conv+BN+Relu, Conv + residual Add + Relu, MaxPool, bias Add of a [C,1,1] constant,
    GlobalAveragePool, Flatten, Gemm, Softmax: sliceable."""
    w1, b1, w2, b2 = f32(6, 3, 3, 3), f32(6), f32(6, 6, 3, 3), f32(6)
    sc, bb, mu, var = f32(6), f32(6), f32(6), np.abs(f32(6)) + 0.5
    cb, wg, bg = f32(6, 1, 1), f32(4, 6), f32(4)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1] * 4),
        helper.make_node("BatchNormalization", ["c1", "sc", "bb", "mu", "var"], ["n1"]),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1] * 4),
        helper.make_node("Add", ["c2", "r1"], ["a2"]),
        helper.make_node("Relu", ["a2"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Add", ["cb", "p"], ["q"]),
        helper.make_node("GlobalAveragePool", ["q"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wg", "bg"], ["l"], transB=1),
        helper.make_node("Softmax", ["l"], ["y"], axis=1),
    ]
    inits = dict(w1=w1, b1=b1, w2=w2, b2=b2, sc=sc, bb=bb, mu=mu, var=var, cb=cb, wg=wg, bg=bg)

    def ref(x):
        n1 = (conv2d(x, w1, b1, 1) - mu.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1) + 1e-5)
        r1 = np.maximum(n1 * sc.reshape(1, -1, 1, 1) + bb.reshape(1, -1, 1, 1), 0)
        r2 = np.maximum(conv2d(r1, w2, b2, 1) + r1, 0)
        h = r2.shape[2] // 2
        p = r2.reshape(r2.shape[0], 6, h, 2, h, 2).max(axis=(3, 5))
        g = (p + cb).mean(axis=(2, 3))
        logits = g @ wg.T + bg
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return nodes, inits, {"x": (3, 40, 40)}, ref, True


def two_inputs():
    """Two batched inputs meeting in an Add (fused as the Conv's residual), then Flatten."""
    w, b = f32(4, 2, 3, 3), f32(4)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1] * 4),
             helper.make_node("Add", ["c", "z"], ["s"]),
             helper.make_node("Flatten", ["s"], ["y"])]

    def ref(x, z):
        return (conv2d(x, w, b, 1) + z).reshape(x.shape[0], -1)
    return nodes, dict(w=w, b=b), {"x": (2, 25, 25), "z": (4, 25, 25)}, ref, True


def fire():
    """SqueezeNet's Fire module: a 1x1 squeeze, 1x1 and 3x3 expands joined by a Concat along
    the channels (placed without copies in slices of one), then a Conv: sliceable."""
    ws, bs, w1, b1, w3, b3 = f32(3, 4, 1, 1), f32(3), f32(5, 3, 1, 1), f32(5), f32(6, 3, 3, 3), f32(6)
    wo, bo = f32(2, 11, 1, 1), f32(2)
    nodes = [helper.make_node("Conv", ["x", "ws", "bs"], ["s"]),
             helper.make_node("Relu", ["s"], ["sr"]),
             helper.make_node("Conv", ["sr", "w1", "b1"], ["e1"]),
             helper.make_node("Conv", ["sr", "w3", "b3"], ["e3"], pads=[1] * 4),
             helper.make_node("Concat", ["e1", "e3"], ["c"], axis=1),
             helper.make_node("Conv", ["c", "wo", "bo"], ["y"])]

    def ref(x):
        sr = np.maximum(conv2d(x, ws, bs, 0), 0)
        c = np.concatenate([conv2d(sr, w1, b1, 0), conv2d(sr, w3, b3, 1)], axis=1)
        return conv2d(c, wo, bo, 0)
    return nodes, dict(ws=ws, bs=bs, w1=w1, b1=b1, w3=w3, b3=b3, wo=wo, bo=bo), \
        {"x": (4, 64, 64)}, ref, True


def concat_batch_axis():
    """A Concat along dim 0 joins samples: runs whole batches."""
    nodes = [helper.make_node("Concat", ["x", "z"], ["y"], axis=0)]
    return nodes, {}, {"x": (3, 4), "z": (3, 4)}, lambda x, z: np.concatenate([x, z]), False


def concat_const():
    """A Concat with a constant operand (its dim 0 fixed at the batch): runs whole batches."""
    k = f32(N, 2, 4)
    nodes = [helper.make_node("Concat", ["x", "k"], ["y"], axis=1)]
    return nodes, dict(k=k), {"x": (3, 4)}, lambda x: np.concatenate([x, k], axis=1), False


def with_reshape():
    """A Reshape whose constant shape copies dim 0 ([0, -1]): sliceable."""
    w, b = f32(4, 2, 1, 1), f32(4)
    shape = np.array([0, -1], np.int64)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"]),
             helper.make_node("Reshape", ["c", "shape"], ["y"])]

    def ref(x):
        return conv2d(x, w, b, 0).reshape(x.shape[0], -1)
    return nodes, dict(w=w, b=b, shape=shape), {"x": (2, 3, 3)}, ref, True


def batch_mixing_const():
    """Add of a constant whose dim 0 is not 1: it broadcasts against the batch dim itself."""
    k = f32(N, 3)
    nodes = [helper.make_node("Add", ["x", "k"], ["y"])]
    return nodes, dict(k=k), {"x": (3,)}, lambda x: x + k, False


def transpose_matmul(perm, sliceable):
    """Transpose(x, perm) -> MatMul by a constant, fused into one MatMul reading x through
    perm (inferd_perm_a): sliceable only when perm keeps the batch on dim 0. x is [N, 1, 4096]
    so that with [1, 0, 2] each slice's output still has dim 0 = 1 = the slice."""
    w = f32(4096, 2)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=perm),
             helper.make_node("MatMul", ["t", "w"], ["y"])]
    shape = (1, 4096) if perm[1] == 0 else (4096, 1)
    return nodes, dict(w=w), {"x": shape}, lambda x: np.transpose(x, perm) @ w, sliceable


def matmul_transpose_batch():
    """MatMul by a constant -> Transpose([1, 0, 2]), fused into one MatMul writing its output
    through the perm (inferd_perm_y): the batch lands on dim 1, runs whole batches."""
    w = f32(4096, 2)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Transpose", ["m"], ["y"], perm=[1, 0, 2])]
    return nodes, dict(w=w), {"x": (1, 4096)}, \
        lambda x: np.transpose(x @ w, (1, 0, 2)), False


def shapes():
    """Shape operators and reductions that keep the batch on dim 0 (opset 17): Pad of the
    spatial dims, Conv, ReduceMean over a spatial axis, Transpose([0, 2, 1]),
    LayerNormalization over the last axis, Gelu-free Erf, Reshape([0, -1]), Unsqueeze and
    Squeeze of axis 1: sliceable."""
    w, b, sc, bb = f32(6, 4, 3, 3), f32(6), f32(6), f32(6)
    i64 = lambda *v: np.array(v, np.int64)
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"]),
             helper.make_node("Conv", ["p", "w", "b"], ["c"]),
             helper.make_node("ReduceMean", ["c"], ["r"], axes=[3], keepdims=0),
             helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1]),
             helper.make_node("LayerNormalization", ["t", "sc", "bb"], ["l"], axis=-1),
             helper.make_node("Erf", ["l"], ["e"]),
             helper.make_node("Reshape", ["e", "shape"], ["f"]),
             helper.make_node("Unsqueeze", ["f", "one"], ["u"]),
             helper.make_node("Squeeze", ["u", "one"], ["y"])]
    inits = dict(w=w, b=b, sc=sc, bb=bb, pads=i64(0, 0, 1, 1, 0, 0, 1, 1), shape=i64(0, -1),
                 one=i64(1))

    def ref(x):
        from math import erf
        t = conv2d(x, w, b, 1).mean(axis=3).transpose(0, 2, 1)
        mu, var = t.mean(axis=-1, keepdims=True), t.var(axis=-1, keepdims=True)
        e = np.vectorize(erf)((t - mu) / np.sqrt(var + 1e-5) * sc + bb)
        return e.reshape(x.shape[0], -1).astype(np.float32)
    return nodes, inits, {"x": (4, 40, 40)}, ref, True


def matmul_residual():
    """MatMul by a constant + the input (fused as the MatMul's residual, input 3): sliceable."""
    w = (f32(256, 256) / 16).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Add", ["m", "x"], ["y"])]
    return nodes, dict(w=w), {"x": (64, 256)}, lambda x: x @ w + x, True


def pad_batch():
    """A Pad that adds samples (pads on dim 0): runs whole batches."""
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"])]
    pads = np.array([1, 0, 0, 0], np.int64)
    return nodes, dict(pads=pads), {"x": (3,)}, lambda x: np.pad(x, ((1, 0), (0, 0))), False


def reduce_batch():
    """A ReduceMean over the batch dim: runs whole batches."""
    nodes = [helper.make_node("ReduceMean", ["x"], ["y"], axes=[0, 1], keepdims=1)]
    return nodes, {}, {"x": (3,)}, lambda x: x.mean(axis=(0, 1), keepdims=True), False


def reshape_batch():
    """A Reshape whose constant shape does not copy dim 0 ([-1, 2]): runs whole batches."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"])]
    shape = np.array([-1, 2], np.int64)
    return nodes, dict(shape=shape), {"x": (4,)}, lambda x: x.reshape(-1, 2), False


def i64(*v):
    return np.array(v, np.int64)


def shape_shuffle(convs):
    """ShuffleNet's channel shuffle and split by sizes computed from Shape (Gather, Div,
    Unsqueeze, Concat: the batch first, then fixed sizes), Slice of the channels by bounds
    computed from a Shape, then `convs` 3x3 Convs: sliceable when the layers outnumber the 19
    shape nodes (which run again in every slice), else run whole."""
    sh = lambda src, out, k, idx: [helper.make_node("Shape", [src], [out + "_s"]),
                                   helper.make_node("Gather", [out + "_s", idx], [out], axis=0)]
    nodes = sh("x", "n", 0, "k0") + sh("x", "c", 1, "k1") + sh("x", "h", 2, "k2") + sh("x", "w", 3, "k3") + [
        helper.make_node("Div", ["c", "two"], ["half"]),
        *[helper.make_node("Unsqueeze", [a, "ax0"], ["u" + a]) for a in ("n", "half", "h", "w")],
        helper.make_node("Concat", ["un", "two1", "uhalf", "uh", "uw"], ["shp1"], axis=0),
        helper.make_node("Reshape", ["x", "shp1"], ["r1"]),
        helper.make_node("Transpose", ["r1"], ["t"], perm=[0, 2, 1, 3, 4]),
        helper.make_node("Concat", ["un", "minus1", "uh", "uw"], ["shp2"], axis=0),
        helper.make_node("Reshape", ["t", "shp2"], ["r2"]),
        helper.make_node("Shape", ["r2"], ["s2"]),
        helper.make_node("Gather", ["s2", "ax1"], ["c2"], axis=0),
        helper.make_node("Div", ["c2", "two1"], ["cut"]),
        helper.make_node("Mul", ["cut", "two1"], ["end"]),
        helper.make_node("Slice", ["r2", "zero1", "cut", "ax1"], ["lo"]),
        helper.make_node("Slice", ["r2", "cut", "end", "ax1"], ["hi"]),
        helper.make_node("Relu", ["hi"], ["hr"]),
        helper.make_node("Add", ["lo", "hr"], ["a0"])]
    inits = dict(k0=i64(0).reshape(()), k1=i64(1).reshape(()), k2=i64(2).reshape(()),
                 k3=i64(3).reshape(()), two=i64(2).reshape(()), ax0=i64(0), ax1=i64(1),
                 two1=i64(2), minus1=i64(-1), zero1=i64(0))
    ws = [(f32(4, 4, 3, 3) / 8).astype(np.float32) for _ in range(convs)]
    for i, w in enumerate(ws):
        inits[f"w{i}"], inits[f"b{i}"] = w, np.zeros(4, np.float32)
        nodes.append(helper.make_node("Conv", [f"a{i}", f"w{i}", f"b{i}"],
                                      ["y" if i == convs - 1 else f"a{i + 1}"], pads=[1] * 4))
    if not convs:
        nodes[-1].output[0] = "y"

    def ref(x):
        n, c, h, w = x.shape
        r2 = x.reshape(n, 2, c // 2, h, w).transpose(0, 2, 1, 3, 4).reshape(n, c, h, w)
        a = r2[:, :c // 2] + np.maximum(r2[:, c // 2:], 0)
        for wc in ws:
            a = conv2d(a, wc, np.zeros(4, np.float32), 1)
        return a
    return nodes, inits, {"x": (8, 24, 24)}, ref, convs > 0


def shape_resize():
    """FPN's upsampling: Resize to sizes = Concat(Slice(Shape(x), 0, 2), the spatial sizes of
    another batched value through Cast to float and back), then Add and 8 Convs: sliceable."""
    nodes = [helper.make_node("Shape", ["x"], ["sx"]),
             helper.make_node("Slice", ["sx", "zero1", "two1"], ["nc"]),
             helper.make_node("Shape", ["z"], ["sz"]),
             helper.make_node("Slice", ["sz", "two1", "four1", "zero1"], ["hw"]),
             helper.make_node("Cast", ["hw"], ["hwf"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["hwf"], ["hwi"], to=TensorProto.INT64),
             helper.make_node("Concat", ["nc", "hwi"], ["sizes"], axis=0),
             helper.make_node("Resize", ["x", "", "", "sizes"], ["r"], mode="nearest"),
             helper.make_node("Add", ["r", "z"], ["a0"])]
    inits = dict(zero1=i64(0), two1=i64(2), four1=i64(4))
    ws = [(f32(4, 4, 3, 3) / 8).astype(np.float32) for _ in range(8)]
    for i, w in enumerate(ws):  # layers outnumbering the shape nodes
        inits[f"w{i}"], inits[f"b{i}"] = w, np.zeros(4, np.float32)
        nodes.append(helper.make_node("Conv", [f"a{i}", f"w{i}", f"b{i}"],
                                      ["y" if i == len(ws) - 1 else f"a{i + 1}"], pads=[1] * 4))

    def ref(x, z):
        a = x.repeat(2, axis=2).repeat(2, axis=3) + z
        for w in ws:
            a = conv2d(a, w, np.zeros(4, np.float32), 1)
        return a
    return nodes, inits, {"x": (4, 20, 20), "z": (4, 40, 40)}, ref, True


def batch_of(src, out):
    """Nodes computing out = [dim 0 of src] (1-D) through Shape, Gather, Unsqueeze."""
    return [helper.make_node("Shape", [src], [out + "_s"]),
            helper.make_node("Gather", [out + "_s", "k0"], [out + "_g"], axis=0),
            helper.make_node("Unsqueeze", [out + "_g", "ax0"], [out])]


NEG_INITS = dict(k0=i64(0).reshape(()), k1=i64(1).reshape(()), ax0=i64(0), ax1=i64(1),
                 two1=i64(2), minus1=i64(-1), zero1=i64(0))


def shape_reshape_double():
    """Reshape to [2 * batch, -1], the size computed from Shape: runs whole batches."""
    nodes = batch_of("x", "n") + [helper.make_node("Mul", ["n", "two1"], ["n2"]),
                                  helper.make_node("Concat", ["n2", "minus1"], ["s"], axis=0),
                                  helper.make_node("Reshape", ["x", "s"], ["y"])]
    return nodes, NEG_INITS, {"x": (4,)}, lambda x: x.reshape(2 * x.shape[0], -1), False


def shape_reshape_batch_second():
    """Reshape to [dim 1, batch, -1] from Shape: the batch lands on dim 1, runs whole."""
    nodes = batch_of("x", "n") + [
        helper.make_node("Shape", ["x"], ["s1"]),
        helper.make_node("Gather", ["s1", "ax1"], ["c"], axis=0),
        helper.make_node("Concat", ["c", "n", "minus1"], ["s"], axis=0),
        helper.make_node("Reshape", ["x", "s"], ["y"])]
    return nodes, NEG_INITS, {"x": (3, 4)}, lambda x: x.reshape(3, x.shape[0], 4), False


def shape_slice_to_batch():
    """Slice of the features up to the batch size (x[:, :batch]): runs whole batches."""
    nodes = batch_of("x", "n") + [helper.make_node("Slice", ["x", "zero1", "n", "ax1"], ["y"])]
    return nodes, NEG_INITS, {"x": (8,)}, lambda x: x[:, :x.shape[0]], False


def slice_batch_axis():
    """Slice of dim 0 by constants: runs whole batches."""
    nodes = [helper.make_node("Slice", ["x", "zero1", "two1", "zero1"], ["y"])]
    return nodes, NEG_INITS, {"x": (3,)}, lambda x: x[:2], False


def resize_batch_scale():
    """Resize with scale 2 on dim 0: runs whole batches."""
    nodes = [helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest")]
    return nodes, dict(sc=np.array([2, 1, 1], np.float32)), {"x": (2, 3)}, \
        lambda x: x.repeat(2, axis=0), False


def prefix_convs():
    """Ten 3x3 Convs, then Softsign (off the list): the Convs run in slices (batch_prefix.c),
    Softsign on the whole batch; each sample equals its batch-1 run bit for bit."""
    ws = [(f32(4, 4, 3, 3) / 8).astype(np.float32) for _ in range(10)]
    bs = [(f32(4) / 4).astype(np.float32) for _ in range(10)]
    nodes, prev = [], "x"
    for i in range(10):
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1] * 4))
        prev = f"c{i}"
    nodes.append(helper.make_node("Softsign", [prev], ["y"]))
    inits = {**{f"w{i}": w for i, w in enumerate(ws)}, **{f"b{i}": b for i, b in enumerate(bs)}}

    def ref(x):
        for w, b in zip(ws, bs):
            x = conv2d(x, w, b, 1)
        return x / (1 + np.abs(x))
    return nodes, inits, {"x": (4, 64, 64)}, ref, True


OPSET = {"shapes": 17, "reduce_batch": 17}
# the node `inferd-onnx info` must name for running whole (not some other rule)
WHY = {"shape_reshape_double": "(Reshape)", "shape_reshape_batch_second": "(Reshape)",
       "shape_slice_to_batch": "(Slice)", "slice_batch_axis": "(Slice)",
       "resize_batch_scale": "(Resize)", "shape_heavy": "nodes compute shapes"}


def save(path, nodes, inits, inputs, opset=14):
    graph = helper.make_graph(
        nodes, "slice",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, ["batch", *v]) for k, v in inputs.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)


def run(tool, args):
    r = subprocess.run([tool] + args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def infer(tool, d, model, feeds, tag):
    args = ["run", model]
    for k, v in feeds.items():
        p = os.path.join(d, f"{tag}_{k}.npy")
        np.save(p, v)
        args += ["--input", f"{k}={p}"]
    out = os.path.join(d, tag)
    run(tool, args + ["--output-dir", out])
    return np.load(os.path.join(out, "y.npy"))


def main():
    tool = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        builds = [cnn, two_inputs, fire, concat_batch_axis, concat_const, with_reshape,
                  batch_mixing_const, matmul_transpose_batch,
                  ("transpose_matmul_batch", lambda: transpose_matmul([1, 0, 2], False)),
                  ("transpose_matmul_rows", lambda: transpose_matmul([0, 2, 1], True)),
                  shapes, matmul_residual, pad_batch, reduce_batch, reshape_batch,
                  ("shape_shuffle", lambda: shape_shuffle(16)),
                  ("shape_heavy", lambda: shape_shuffle(0)), shape_resize, shape_reshape_double, shape_reshape_batch_second,
                  shape_slice_to_batch, slice_batch_axis, resize_batch_scale, prefix_convs]
        for build in builds:
            name, build = build if isinstance(build, tuple) else (build.__name__, build)
            nodes, inits, inputs, ref, sliceable = build()
            model = os.path.join(d, name + ".onnx")
            save(model, nodes, inits, inputs, OPSET.get(name, 14))
            info = run(tool, ["info", model])
            m = re.search(r"batch slice: (\d+|none)", info)
            assert m, name
            assert WHY.get(name, "") in info, (name, info)
            assert (m.group(1) != "none") == sliceable, (name, m.group(1))
            feeds = {k: f32(N, *v) for k, v in inputs.items()}
            whole = infer(tool, d, model, feeds, name + "_b5")
            np.testing.assert_allclose(whole, ref(*feeds.values()), rtol=1e-4, atol=1e-5, err_msg=name)
            if sliceable and int(m.group(1)) == 1:
                for i in range(N):
                    one = infer(tool, d, model, {k: v[i:i + 1] for k, v in feeds.items()}, f"{name}_{i}")
                    assert np.array_equal(one[0], whole[i]), (name, i)
            print("ok", name, "slice", m.group(1))


if __name__ == "__main__":
    main()
