#!/usr/bin/python3
"""The bundled digits model on our runtime: `inferd-onnx run` on the ten held-out samples of
models/digits/samples.json must classify every one correctly and agree with a numpy forward
pass computed from the model file's own weights (an independent reference).
Usage: test_digits_model.py PATH/TO/inferd-onnx REPO_ROOT"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper


def numpy_forward(model, x):
    """Mul -> (Gemm -> Relu) x 2 -> Gemm -> Softmax, read off the graph (checked, not assumed)."""
    w = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["Mul", "Gemm", "Relu", "Gemm", "Relu", "Gemm", "Softmax"], ops
    h = None
    for n in model.graph.node:
        ins = [w.get(i) for i in n.input]
        if n.op_type == "Mul":
            h = x * ins[1]
        elif n.op_type == "Gemm":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            b = ins[1].T if attrs.get("transB", 0) else ins[1]
            h = h @ b + ins[2]
        elif n.op_type == "Relu":
            h = np.maximum(h, 0)
        else:
            e = np.exp(h - h.max(axis=1, keepdims=True))
            h = e / e.sum(axis=1, keepdims=True)
    return h.astype(np.float32)


def main():
    tool, root = sys.argv[1], sys.argv[2]
    model_path = os.path.join(root, "models", "digits", "1", "model.onnx")
    with open(os.path.join(root, "models", "digits", "samples.json")) as f:
        samples = json.load(f)
    x = np.array(samples["inputs"], dtype=np.float32)
    labels = np.array(samples["labels"])
    assert x.shape == (10, 64) and sorted(labels.tolist()) == list(range(10))

    with tempfile.TemporaryDirectory() as d:
        xin = os.path.join(d, "input.npy")
        np.save(xin, x)
        r = subprocess.run([tool, "run", model_path, "--input", "input=" + xin,
                            "--output-dir", d], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        probs = np.load(os.path.join(d, "probabilities.npy"))

    assert probs.shape == (10, 10), probs.shape
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert (probs.argmax(axis=1) == labels).all(), (probs.argmax(axis=1), labels)
    ref = numpy_forward(onnx.load(model_path), x)
    np.testing.assert_allclose(probs, ref, rtol=1e-4, atol=1e-6)
    print("digits: 10/10 samples classified correctly; matches the numpy forward pass")


if __name__ == "__main__":
    main()
