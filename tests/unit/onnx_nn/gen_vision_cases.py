"""Writes ONNX test cases for GridSample into DIR (model.onnx + test_data_set_0, the layout
inferd-conformance reads), with expected outputs from torch.nn.functional.grid_sample, which
the ONNX operator follows:
    /usr/bin/python3 gen_vision_cases.py DIR && inferd-conformance DIR
Debian's ONNX test data covers a few mode/padding pairs; this covers all of them with both
align_corners values, grid points far outside the image and non-square planes."""
import os
import shutil
import sys

import numpy as np
import onnx
import torch
from onnx import helper, TensorProto, numpy_helper

rng = np.random.default_rng(3)
root = sys.argv[1]
shutil.rmtree(root, ignore_errors=True)
n_cases = 0


def save(name, node, inputs, outputs, opset=16):
    global n_cases
    d = f'{root}/{name}'
    os.makedirs(d + '/test_data_set_0')
    g = helper.make_graph([node], name,
                          [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape)) for k, v in inputs],
                          [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape)) for k, v in outputs])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)]), d + '/model.onnx')
    for i, (k, v) in enumerate(inputs):
        open(f'{d}/test_data_set_0/input_{i}.pb', 'wb').write(numpy_helper.from_array(v, k).SerializeToString())
    for i, (k, v) in enumerate(outputs):
        open(f'{d}/test_data_set_0/output_{i}.pb', 'wb').write(numpy_helper.from_array(v, k).SerializeToString())
    n_cases += 1


x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
grid = rng.uniform(-1.6, 1.6, (2, 4, 6, 2)).astype(np.float32)
grid[0, 0, 0] = [-3.7, 2.9]  # far outside: reflection folds several times
grid[1, 0, 0] = [1.0, -1.0]  # exactly on the edges
for mode in ['bilinear', 'nearest', 'bicubic']:
    for pad in ['zeros', 'border', 'reflection']:
        for align in [0, 1]:
            y = torch.nn.functional.grid_sample(torch.from_numpy(x), torch.from_numpy(grid), mode=mode,
                                                padding_mode=pad, align_corners=bool(align)).numpy()
            node = helper.make_node('GridSample', ['X', 'grid'], ['Y'], mode=mode, padding_mode=pad,
                                    align_corners=align)
            save(f'gridsample_{mode}_{pad}_a{align}', node, [('X', x), ('grid', grid)], [('Y', y)])
print(n_cases, 'cases')
