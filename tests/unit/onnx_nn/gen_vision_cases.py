"""Writes ONNX test cases for GridSample, MaxRoiPool, RoiAlign and LpNormalization into DIR
(model.onnx + test_data_set_0, the layout inferd-conformance reads), with expected outputs
from PyTorch / torchvision, which those operators were defined after:
    /usr/bin/python3 gen_vision_cases.py DIR && inferd-conformance DIR
Debian's ONNX test data covers a few GridSample mode/padding pairs and has no MaxRoiPool or
LpNormalization case; this covers every GridSample mode with both align_corners values, grid
points far outside the image and non-square planes, and regions partly outside the image."""
import shutil
import sys

import numpy as np
from case_writer import write_case
import onnx
import torch
import torchvision
from onnx import helper

rng = np.random.default_rng(3)
root = sys.argv[1]
shutil.rmtree(root, ignore_errors=True)
n_cases = 0




def save(name, node, inputs, outputs, opset=16):
    global n_cases
    write_case(root, name, [node], inputs, outputs, opset=opset)
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

# MaxRoiPool vs torchvision.ops.roi_pool (Caffe's rounding and bin edges)
img = rng.standard_normal((2, 3, 9, 11)).astype(np.float32)
rois = np.array([[0, 1, 1, 7, 5], [1, 0, 0, 10, 8], [0, 3.4, 2.6, 3.6, 2.4], [1, -3, -2, 4, 12],
                 [0, 8, 6, 30, 20]], np.float32)
for ps, scale in [((2, 2), 1.0), ((3, 4), 0.5), ((1, 1), 1.0)]:
    y = torchvision.ops.roi_pool(torch.from_numpy(img), torch.from_numpy(rois), ps, scale).numpy()
    node = helper.make_node('MaxRoiPool', ['X', 'rois'], ['Y'], pooled_shape=list(ps), spatial_scale=scale)
    save(f'maxroipool_{ps[0]}x{ps[1]}_s{scale}', node, [('X', img), ('rois', rois)], [('Y', y)], opset=13)
# RoiAlign (avg) vs torchvision.ops.roi_align: aligned=True is half_pixel
boxes = rois[:, 1:].copy()
boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
bidx = rois[:, 0].astype(np.int64)
tb = torch.from_numpy(np.concatenate([rois[:, :1], boxes], 1))
for aligned, sr, scale in [(True, 2, 1.0), (False, 0, 0.5), (True, 0, 1.0)]:
    y = torchvision.ops.roi_align(torch.from_numpy(img), tb, (3, 2), scale, sr, aligned).numpy()
    node = helper.make_node('RoiAlign', ['X', 'rois', 'batch_indices'], ['Y'], output_height=3, output_width=2,
                            sampling_ratio=sr, spatial_scale=scale,
                            coordinate_transformation_mode='half_pixel' if aligned else 'output_half_pixel')
    save(f'roialign_a{int(aligned)}_sr{sr}_s{scale}', node, [('X', img), ('rois', boxes), ('batch_indices', bidx)],
         [('Y', y)])
# LpNormalization vs torch.nn.functional.normalize
v = rng.standard_normal((3, 4, 5)).astype(np.float32)
v[1, :, 2] = 0  # a zero vector along axis 1
for p in (1, 2):
    for axis in (-1, 1, 0):
        y = torch.nn.functional.normalize(torch.from_numpy(v), p=p, dim=axis, eps=0).numpy()
        y = np.nan_to_num(y)  # torch gives 0/0 for the zero vector; the operator keeps 0
        save(f'lpnorm_p{p}_axis{axis}', helper.make_node('LpNormalization', ['X'], ['Y'], p=p, axis=axis),
             [('X', v)], [('Y', y)], opset=13)
print(n_cases, 'cases')
