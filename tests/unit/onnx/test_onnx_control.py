#!/usr/bin/python3
"""Subgraph scoping and control flow cases the ONNX suite lacks, run through inferd-onnx: an
outer value shadowed by a subgraph input, a Loop with zero trips (carried values pass through,
scan outputs are empty with the declared shape), If branches of different shapes, a value
captured two levels out, and models the runner must refuse cleanly; string tensors through
If, Loop and sequences (as conformance cases, since .npy files carry no strings).
Usage: test_onnx_control.py PATH/TO/inferd-onnx PATH/TO/inferd-conformance"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def save(d, graph, name, opset=13):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    path = os.path.join(d, name + ".onnx")
    onnx.save(m, path)  # no checker: shadowing is what ONNX's checker would refuse
    return path


def run(tool, d, model, inputs):
    """Runs the model; returns (returncode, stderr, {output name: array})."""
    args = [tool, "run", model, "--output-dir", os.path.join(d, "out")]
    os.makedirs(os.path.join(d, "out"), exist_ok=True)
    for f in os.listdir(os.path.join(d, "out")):
        os.unlink(os.path.join(d, "out", f))
    for name, arr in inputs.items():
        p = os.path.join(d, name + ".npy")
        np.save(p, arr)
        args += ["--input", "%s=%s" % (name, p)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    outs = {}
    if r.returncode == 0:
        for f in os.listdir(os.path.join(d, "out")):
            outs[f[:-4]] = np.load(os.path.join(d, "out", f))
    return r.returncode, r.stderr, outs


def loop_shadowing(d):
    """Outer 'v' = 2x and 'w'; the body's carried input is also named 'v': v_out = v + w must
    read the body's v (x, x+w, ...), not the outer one."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"]),
         helper.make_node("Add", ["v", "w"], ["v_out"])],
        "body", [vi("i", TensorProto.INT64, []), vi("cond", TensorProto.BOOL, []),
                 vi("v", F, [2])],
        [vi("cond_out", TensorProto.BOOL, []), vi("v_out", F, [2])])
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["v"]),
         helper.make_node("Loop", ["M", "", "x"], ["y"], body=body)],
        "shadow", [vi("x", F, [2]), vi("w", F, [2]), vi("M", TensorProto.INT64, [])],
        [vi("y", F, [2])])
    return save(d, g, "shadow")


def loop_scan(d):
    """Loop carrying s (s += x) and stacking s each trip; scan output declared [?, 3]."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"]),
         helper.make_node("Add", ["s", "x"], ["s_out"]),
         helper.make_node("Identity", ["s_out"], ["scan"])],
        "body", [vi("i", TensorProto.INT64, []), vi("cond", TensorProto.BOOL, []),
                 vi("s", F, [3])],
        [vi("cond_out", TensorProto.BOOL, []), vi("s_out", F, [3]), vi("scan", F, [3])])
    g = helper.make_graph(
        [helper.make_node("Loop", ["M", "", "s0"], ["s_final", "stacked"], body=body)],
        "loop", [vi("x", F, [3]), vi("s0", F, [3]), vi("M", TensorProto.INT64, [])],
        [vi("s_final", F, [3]), vi("stacked", F, [None, 3])])
    return save(d, g, "loop")


def if_shapes(d):
    """then: a [3] constant; else: the outer [2, 2] input plus one."""
    then_g = helper.make_graph(
        [helper.make_node("Constant", [], ["t"],
                          value=numpy_helper.from_array(np.array([1, 2, 3], np.float32)))],
        "then", [], [vi("t", F, [3])])
    else_g = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["e"])], "else", [], [vi("e", F, [2, 2])],
        initializer=[numpy_helper.from_array(np.array(1, np.float32), "one")])
    g = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=then_g,
                                            else_branch=else_g)],
                          "if", [vi("c", TensorProto.BOOL, None), vi("x", F, [2, 2])],
                          [vi("y", F, None)])
    return save(d, g, "if")


def two_levels(d):
    """A Loop body holding an If whose branch reads 'k', a value of the main graph."""
    then_g = helper.make_graph([helper.make_node("Mul", ["s", "k"], ["r"])], "then", [],
                               [vi("r", F, [2])])
    else_g = helper.make_graph([helper.make_node("Identity", ["s"], ["r2"])], "else", [],
                               [vi("r2", F, [2])])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"]),
         helper.make_node("If", ["flag"], ["s_out"], then_branch=then_g, else_branch=else_g)],
        "body", [vi("i", TensorProto.INT64, []), vi("cond", TensorProto.BOOL, []),
                 vi("s", F, [2])],
        [vi("cond_out", TensorProto.BOOL, []), vi("s_out", F, [2])])
    g = helper.make_graph(
        [helper.make_node("Add", ["k0", "k0"], ["k"]),
         helper.make_node("Loop", ["M", "", "s0"], ["y"], body=body)],
        "nested", [vi("k0", F, [2]), vi("s0", F, [2]), vi("M", TensorProto.INT64, []),
                   vi("flag", TensorProto.BOOL, [])],
        [vi("y", F, [2])])
    return save(d, g, "nested")


def strings_cases(d):
    """Case folders (model.onnx + test_data_set_N/*.pb) with string tensors in subgraphs and
    sequences, for the conformance runner."""
    S = TensorProto.STRING

    def strs(values, name):
        return numpy_helper.from_array(np.array(values, dtype=object), name)

    def case(name, graph, sets):
        cdir = os.path.join(d, "cases", name)
        os.makedirs(cdir)
        save(cdir, graph, "model")
        for k, (ins, outs) in enumerate(sets):
            sdir = os.path.join(cdir, "test_data_set_%d" % k)
            os.makedirs(sdir)
            for prefix, ts in (("input", ins), ("output", outs)):
                for i, t in enumerate(ts):
                    with open(os.path.join(sdir, "%s_%d.pb" % (prefix, i)), "wb") as f:
                        f.write(t.SerializeToString())

    then_g = helper.make_graph([helper.make_node("Constant", [], ["t"],
                                                 value=strs(["a", "bc"], "v"))],
                               "then", [], [vi("t", S, [2])])
    else_g = helper.make_graph([helper.make_node("Identity", ["s"], ["e"])], "else", [],
                               [vi("e", S, None)])
    g = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=then_g,
                                            else_branch=else_g)], "if_strings",
                          [vi("c", TensorProto.BOOL, []), vi("s", S, [1])], [vi("y", S, None)])
    yes = numpy_helper.from_array(np.array(True), "c")
    no = numpy_helper.from_array(np.array(False), "c")
    case("if_strings", g, [([yes, strs(["xyz"], "s")], [strs(["a", "bc"], "y")]),
                           ([no, strs(["xyz"], "s")], [strs(["xyz"], "y")])])

    body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"]),
         helper.make_node("Identity", ["s"], ["s_out"])],
        "body", [vi("i", TensorProto.INT64, []), vi("cond", TensorProto.BOOL, []),
                 vi("s", S, [2])],
        [vi("cond_out", TensorProto.BOOL, []), vi("s_out", S, [2])])
    g = helper.make_graph([helper.make_node("Loop", ["M", "", "s0"], ["y"], body=body)],
                          "loop_strings", [vi("M", TensorProto.INT64, []), vi("s0", S, [2])],
                          [vi("y", S, [2])])
    m2 = numpy_helper.from_array(np.array(2, np.int64), "M")
    case("loop_strings", g, [([m2, strs(["p", "qq"], "s0")], [strs(["p", "qq"], "y")])])

    g = helper.make_graph(
        [helper.make_node("SequenceConstruct", ["a", "b"], ["seq"]),
         helper.make_node("SequenceAt", ["seq", "one"], ["y"])],
        "seq_strings", [vi("a", S, [1]), vi("b", S, [2])], [vi("y", S, [2])],
        initializer=[numpy_helper.from_array(np.array(1, np.int64), "one")])
    case("seq_strings", g, [([strs(["a"], "a"), strs(["", "long string"], "b")],
                             [strs(["", "long string"], "y")])])
    return os.path.join(d, "cases")


def main():
    tool = sys.argv[1]
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL:", what)

    with tempfile.TemporaryDirectory() as d:
        x = np.array([1, 2], np.float32)
        w = np.array([10, 20], np.float32)
        rc, err, o = run(tool, d, loop_shadowing(d), {"x": x, "w": w, "M": np.array(3, np.int64)})
        check(rc == 0 and np.array_equal(o.get("y"), x + 3 * w),
              "shadowing: y = x + 3w (got %s, %s)" % (o.get("y"), err.strip()))

        m = loop_scan(d)
        s0 = np.array([1, 1, 1], np.float32)
        xs = np.array([1, 2, 3], np.float32)
        rc, err, o = run(tool, d, m, {"x": xs, "s0": s0, "M": np.array(0, np.int64)})
        check(rc == 0 and np.array_equal(o.get("s_final"), s0),
              "zero trips: the carried value passes through (%s)" % err.strip())
        st = o.get("stacked")
        check(rc == 0 and st is not None and st.shape == (0, 3) and st.dtype == np.float32,
              "zero trips: scan output of shape [0, 3] (got %s)" % str(None if st is None else st.shape))
        rc, err, o = run(tool, d, m, {"x": xs, "s0": s0, "M": np.array(2, np.int64)})
        check(rc == 0 and np.array_equal(o.get("stacked"), np.stack([s0 + xs, s0 + 2 * xs])),
              "two trips: stacked scan output (%s)" % err.strip())

        m = if_shapes(d)
        xx = np.array([[1, 2], [3, 4]], np.float32)
        rc, err, o = run(tool, d, m, {"c": np.array(True), "x": xx})
        check(rc == 0 and np.array_equal(o.get("y"), np.array([1, 2, 3], np.float32)),
              "If then: [3] (%s)" % err.strip())
        rc, err, o = run(tool, d, m, {"c": np.array(False), "x": xx})
        check(rc == 0 and np.array_equal(o.get("y"), xx + 1), "If else: [2, 2] (%s)" % err.strip())
        rc, err, o = run(tool, d, m, {"c": np.array([True, False]), "x": xx})
        check(rc != 0 and "condition" in err, "If with two conditions is refused (%s)" % err.strip())

        m = two_levels(d)
        k0 = np.array([1, 2], np.float32)
        s0 = np.array([1, 1], np.float32)
        for flag, want in ((True, s0 * (2 * k0) ** 3), (False, s0)):
            rc, err, o = run(tool, d, m, {"k0": k0, "s0": s0, "M": np.array(3, np.int64),
                                          "flag": np.array(flag)})
            check(rc == 0 and np.array_equal(o.get("y"), want),
                  "two levels out, flag %s (%s)" % (flag, err.strip()))

        # an If without its else branch loads but fails cleanly when it is taken
        then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then", [],
                                   [vi("t", F, [2])])
        g = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=then_g)], "bad",
                              [vi("c", TensorProto.BOOL, []), vi("x", F, [2])], [vi("y", F, [2])])
        rc, err, o = run(tool, d, save(d, g, "noelse"), {"c": np.array(False), "x": x})
        check(rc != 0 and "else_branch" in err, "missing else branch (%s)" % err.strip())
        # a subgraph reading a name no enclosing graph defines
        then_g = helper.make_graph([helper.make_node("Identity", ["nowhere"], ["t"])], "then", [],
                                   [vi("t", F, [2])])
        g = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=then_g,
                                                else_branch=then_g)], "bad",
                              [vi("c", TensorProto.BOOL, [])], [vi("y", F, [2])])
        rc, err, o = run(tool, d, save(d, g, "undefined"), {"c": np.array(True)})
        check(rc != 0 and "nowhere" in err, "undefined outer name (%s)" % err.strip())
        # subgraphs nested 17 deep (the limit is 16) are refused
        inner = helper.make_graph([helper.make_node("Identity", ["x"], ["t0"])], "g0", [],
                                  [vi("t0", F, [2])])
        for k in range(1, 18):
            leaf = helper.make_graph([helper.make_node("Identity", ["x"], ["e%d" % k])],
                                     "e%d" % k, [], [vi("e%d" % k, F, [2])])
            inner = helper.make_graph(
                [helper.make_node("If", ["c"], ["t%d" % k], then_branch=inner, else_branch=leaf)],
                "g%d" % k, [], [vi("t%d" % k, F, [2])])
        g = helper.make_graph([helper.make_node("Identity", ["t17"], ["y"])], "deep",
                              [vi("c", TensorProto.BOOL, []), vi("x", F, [2])], [vi("y", F, [2])])
        g.node.insert(0, inner.node[0])
        rc, err, o = run(tool, d, save(d, g, "deep"), {"c": np.array(True), "x": x})
        check(rc != 0 and "nested deeper" in err, "deep nesting refused (%s)" % err.strip())

        cases = strings_cases(d)
        r = subprocess.run([sys.argv[2], cases, "--verbose"], capture_output=True, text=True,
                           timeout=120)
        check(r.returncode == 0 and "3 passed, 0 failed, 0 unsupported" in r.stdout,
              "strings through If, Loop and sequences:\n" + r.stdout[-1500:] + r.stderr)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all control-flow cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
