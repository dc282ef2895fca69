#!/usr/bin/python3
"""Concat without copies (src/onnx/place.c): Concats along axis 1 whose inputs are written in
place into one buffer from a session's second run of a shape. Each model here is run once and
three times in one session (`inferd-onnx run --runs`), at batch 1 (placed) and batch 2 (copies),
and every output must equal numpy's. `inferd-onnx info` must count the groups the plan finds.
The graphs cover what could go wrong: a DenseNet block (values read by several Concats), an
Inception module, a nested Concat, two Concats whose layouts conflict, a Reshape (a view) as an
input, an input other nodes read too, sizes that are not multiples of 64 bytes, a Concat over
axis 2 (not placed), and a Concat output that is a graph output.
Usage: test_onnx_concat_place.py PATH/TO/inferd-onnx"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(11)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def conv1x1(x, w, b):
    return (np.einsum("nchw,mc->nmhw", x.astype(np.float64), w[:, :, 0, 0]) +
            b.reshape(1, -1, 1, 1)).astype(np.float32)


def dense_block():
    """x0 = Neg(x), then 3 layers, each Conv(Relu(Concat(all before))) -> 16 channels; a final
    Concat. (A graph input or output in a Concat leaves it out: x itself would.)"""
    c0, g, layers = 16, 16, 3
    ws = [(f32(g, c0 + g * i, 1, 1), f32(g)) for i in range(layers)]
    nodes, inits, feats = [helper.make_node("Neg", ["x"], ["x0"])], {}, ["x0"]
    for i, (w, b) in enumerate(ws):
        nodes += [helper.make_node("Concat", list(feats), [f"cat{i}"], axis=1),
                  helper.make_node("Relu", [f"cat{i}"], [f"r{i}"]),
                  helper.make_node("Conv", [f"r{i}", f"w{i}", f"b{i}"], [f"n{i}"])]
        inits[f"w{i}"], inits[f"b{i}"] = w, b
        feats.append(f"n{i}")
    nodes.append(helper.make_node("Concat", list(feats), ["y0"], axis=1))
    nodes.append(helper.make_node("Relu", ["y0"], ["y"]))

    def ref(x):
        fs = [-x]
        for w, b in ws:
            fs.append(conv1x1(np.maximum(np.concatenate(fs, 1), 0), w, b))
        return np.maximum(np.concatenate(fs, 1), 0)
    return nodes, inits, (c0, 8, 8), ref, 1, layers + 1


def inception():
    """Four branches of one input (two of them through a Relu) into one Concat, then a Conv."""
    ws = [(f32(16, 16, 1, 1), f32(16)) for _ in range(4)]
    wo, bo = f32(8, 64, 1, 1), f32(8)
    nodes, inits = [], {"wo": wo, "bo": bo}
    for i, (w, b) in enumerate(ws):
        inits[f"w{i}"], inits[f"b{i}"] = w, b
        nodes.append(helper.make_node("Conv", ["x", f"w{i}", f"b{i}"], [f"c{i}"]))
    nodes += [helper.make_node("Relu", ["c1"], ["r1"]), helper.make_node("Relu", ["c3"], ["r3"]),
              helper.make_node("Concat", ["c0", "r1", "c2", "r3"], ["cat"], axis=1),
              helper.make_node("Conv", ["cat", "wo", "bo"], ["y"])]

    def ref(x):
        c = [conv1x1(x, w, b) for w, b in ws]
        c[1], c[3] = np.maximum(c[1], 0), np.maximum(c[3], 0)
        return conv1x1(np.concatenate(c, 1), wo, bo)
    return nodes, inits, (16, 6, 6), ref, 1, 1


def nested():
    """Concat(Concat(a, b), c) and a second reader of b (a Sigmoid, also an output)."""
    w = [(f32(16, 8, 1, 1), f32(16)) for _ in range(3)]
    nodes, inits = [], {}
    for i, (wi, bi) in enumerate(w):
        inits[f"w{i}"], inits[f"b{i}"] = wi, bi
        nodes.append(helper.make_node("Conv", ["x", f"w{i}", f"b{i}"], [f"c{i}"]))
    nodes += [helper.make_node("Concat", ["c0", "c1"], ["ab"], axis=1),
              helper.make_node("Concat", ["ab", "c2"], ["abc"], axis=1),
              helper.make_node("Neg", ["abc"], ["y"]),
              helper.make_node("Sigmoid", ["c1"], ["z"])]

    def ref(x):
        c = [conv1x1(x, wi, bi) for wi, bi in w]
        return -np.concatenate(c, 1), 1 / (1 + np.exp(-c[1]))
    return nodes, inits, (8, 4, 4), ref, 1, 2


def conflict():
    """Concat(a, b) and Concat(c, b): b cannot be right after both a and c (a and c would share
    a slot), so copies; both sums must still be right."""
    w = [(f32(16, 8, 1, 1), f32(16)) for _ in range(3)]
    nodes, inits = [], {}
    for i, (wi, bi) in enumerate(w):
        inits[f"w{i}"], inits[f"b{i}"] = wi, bi
        nodes.append(helper.make_node("Conv", ["x", f"w{i}", f"b{i}"], [f"c{i}"]))
    nodes += [helper.make_node("Concat", ["c0", "c1"], ["p"], axis=1),
              helper.make_node("Concat", ["c2", "c1"], ["q"], axis=1),
              helper.make_node("Add", ["p", "q"], ["y"])]

    def ref(x):
        c = [conv1x1(x, wi, bi) for wi, bi in w]
        return np.concatenate([c[0], c[1]], 1) + np.concatenate([c[2], c[1]], 1)
    return nodes, inits, (8, 4, 4), ref, 1, 2


def views_and_odd_sizes():
    """A Reshape (a view of its input) into a Concat, next to the tensor it views; 5x5 planes
    of 3 and 4 channels (300 and 400 bytes, not multiples of 64: never placed)."""
    w, b = f32(3, 4, 1, 1), f32(3)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"]),
             helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Shape", ["c"], ["shape"]),
             helper.make_node("Reshape", ["c", "shape"], ["v"]),
             helper.make_node("Concat", ["r", "v", "c"], ["cat"], axis=1),
             helper.make_node("Neg", ["cat"], ["y"])]

    def ref(x):
        c = conv1x1(x, w, b)
        return -np.concatenate([np.maximum(x, 0), c, c], 1)
    return nodes, {"w": w, "b": b}, (4, 5, 5), ref, 1, 1


def build(name, spec, batch, d):
    nodes, inits, shape, _, _, _ = spec
    outs = ["y", "z"] if name == "nested" else ["y"]
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = os.path.join(d, f"{name}-b{batch}.onnx")
    onnx.save(model, path)
    return path, outs


def axis2():
    """Concats over axis 2 (not placed: only axis 1 is)."""
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["x"], ["b"]),
             helper.make_node("Concat", ["a", "b"], ["p"], axis=2),
             helper.make_node("Concat", ["p", "a"], ["y"], axis=2)]

    def ref(x):
        a = np.maximum(x, 0)
        return np.concatenate([a, -x, a], 2)
    return nodes, {}, (16, 4, 4), ref, 0, 0


def run(tool, path, outs, x, runs, d):
    xf = os.path.join(d, "x.npy")
    np.save(xf, x)
    od = os.path.join(d, f"out{runs}")
    subprocess.run([tool, "run", path, "--input", f"x={xf}", "--runs", str(runs),
                    "--output-dir", od], check=True, capture_output=True, timeout=60)
    return [np.load(os.path.join(od, f"{o}.npy")) for o in outs]


def main():
    tool = sys.argv[1]
    specs = {"dense_block": dense_block(), "inception": inception(), "nested": nested(),
             "conflict": conflict(), "views_and_odd_sizes": views_and_odd_sizes(),
             "axis2": axis2()}
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        for name, spec in specs.items():
            _, _, shape, ref, groups, cats = spec
            for batch in (1, 2):
                path, outs = build(name, spec, batch, d)
                info = subprocess.run([tool, "info", path], check=True, capture_output=True,
                                      text=True, timeout=60).stdout
                m = re.search(r"concat groups: (\d+) \((\d+) Concats", info)
                if not m or (int(m.group(1)), int(m.group(2))) != (groups, cats):
                    print(f"FAIL {name}: info says {m and m.group(0)}, want {groups} groups, "
                          f"{cats} Concats")
                    failures += 1
                x = f32(batch, *shape)
                want = ref(x)
                want = want if isinstance(want, tuple) else (want,)
                for runs in (1, 3):
                    got = run(tool, path, outs, x, runs, d)
                    for o, g, w in zip(outs, got, want):
                        if g.shape != w.shape or not np.allclose(g, w, rtol=1e-4, atol=1e-4):
                            err = np.abs(g - w).max() if g.shape == w.shape else g.shape
                            print(f"FAIL {name} batch {batch} runs {runs} output {o}: {err}")
                            failures += 1
    if failures:
        sys.exit(1)
    print(f"ok: {len(specs)} models, batch 1 and 2, 1 and 3 runs per session")


if __name__ == "__main__":
    main()
