"""Writes ONNX test cases (model.onnx + test_data_set_0) for the nn operators into DIR, with
expected outputs from PyTorch / numpy, in the layout inferd-conformance reads:
    /usr/bin/python3 gen_reference_cases.py DIR && inferd-conformance DIR
Covers what Debian's ONNX test data does not: depthwise stride-2 and padded paths, grouped and
1x1 convolutions, dilations with asymmetric pads, ceil_mode pooling, MatMul broadcasting,
softmax over middle axes, LayerNorm scale broadcasting, Gemm C broadcasting."""
import shutil
import sys

import numpy as np
from case_writer import write_case
import onnx
import torch
from onnx import helper
torch.manual_seed(0); rng = np.random.default_rng(1)
root = sys.argv[1]
shutil.rmtree(root, ignore_errors=True)
n_cases = 0
def save(name, nodes, inputs, outputs, inits=(), opset=13):
    global n_cases
    write_case(root, name, nodes, inputs, outputs, inits, opset)
    n_cases += 1
F = lambda *s: rng.standard_normal(s).astype(np.float32)
# Conv 2-D incl. depthwise variants
for (c, m, g, hw, k, s, p, d, bias) in [
    (8, 8, 8, (13, 17), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),
    (8, 8, 8, (14, 14), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),
    (8, 16, 8, (9, 9), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),
    (6, 6, 6, (7, 10), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), False),
    (6, 6, 6, (7, 10), (3, 3), (1, 1), (0, 2, 1, 0), (1, 1), True),
    (4, 4, 4, (11, 11), (5, 5), (2, 2), (2, 2, 2, 2), (1, 1), True),
    (4, 4, 4, (11, 12), (3, 3), (3, 2), (1, 1, 1, 1), (2, 2), True),
    (4, 4, 4, (1, 1), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), True),
    (4, 4, 4, (2, 3), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),
    (4, 4, 4, (8, 8), (1, 3), (1, 2), (0, 1, 0, 1), (1, 1), True),
    (6, 12, 3, (9, 8), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), True),
    (16, 32, 1, (10, 10), (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), True),
    (16, 32, 2, (10, 10), (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), True),
    (16, 32, 1, (10, 10), (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), True),
    (3, 5, 1, (12, 9), (3, 3), (2, 1), (2, 0, 1, 3), (2, 1), True),
    (3, 5, 1, (12, 9), (4, 2), (3, 3), (0, 0, 0, 0), (1, 2), False),
    # depthwise phase planes: wide rows (computed row by row), stride 2 on odd/even widths,
    # 5x5 (generic taps), stride 3 > kernel, dilation with stride 2, kernel 17 (im2col)
    (5, 5, 5, (9, 40), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), True),
    (5, 10, 5, (11, 70), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),
    (5, 5, 5, (12, 71), (3, 3), (2, 2), (0, 1, 1, 0), (1, 1), True),
    (3, 3, 3, (16, 15), (5, 5), (1, 1), (2, 2, 2, 2), (1, 1), True),
    (3, 3, 3, (16, 15), (5, 5), (2, 2), (2, 1, 2, 2), (1, 1), False),
    (3, 3, 3, (13, 14), (3, 3), (3, 3), (1, 1, 1, 1), (1, 1), True),
    (3, 3, 3, (13, 34), (3, 3), (2, 2), (2, 2, 2, 2), (2, 2), True),
    (3, 3, 3, (3, 30), (1, 17), (1, 1), (0, 8, 0, 8), (1, 1), True),
    # taps in chunks of five (nn_k_dw_taps): 5x5 with a multiplier at stride 2, 7x7 (ConvNeXt:
    # nine chunks and four single taps), 1x6 (one chunk and one)
    (4, 8, 4, (14, 13), (5, 5), (2, 2), (2, 2, 2, 2), (1, 1), True),
    (6, 6, 6, (15, 16), (7, 7), (1, 1), (3, 3, 3, 3), (1, 1), True),
    (3, 3, 3, (5, 12), (1, 6), (1, 1), (0, 2, 0, 3), (1, 1), False),
    # straight from the input (conv_dw_direct.c: 3x3 / 5x5 stride 1, rows >= 48 wide): full
    # and masked vectors, pads 0 .. k-1 on either side, a multiplier, rows shorter than the
    # window below the input
    (4, 4, 4, (6, 50), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), True),
    (3, 6, 3, (9, 77), (3, 3), (1, 1), (2, 0, 0, 2), (1, 1), True),
    (4, 4, 4, (7, 64), (5, 5), (1, 1), (2, 2, 2, 2), (1, 1), False),
    (3, 3, 3, (3, 61), (5, 5), (1, 1), (4, 0, 1, 4), (1, 1), True),
    ]:
    x = F(2, c, *hw); w = F(m, c // g, *k); b = F(m)
    xt = torch.from_numpy(x); xt = torch.nn.functional.pad(xt, (p[1], p[3], p[0], p[2]))
    y = torch.nn.functional.conv2d(xt, torch.from_numpy(w), torch.from_numpy(b) if bias else None, s, 0, d, g).numpy()
    name = f'conv2d_c{c}m{m}g{g}_{hw[0]}x{hw[1]}_k{k[0]}{k[1]}_s{s[0]}{s[1]}_p{"".join(map(str,p))}_d{d[0]}{d[1]}'
    ins = ['x', 'w'] + (['b'] if bias else [])
    node = helper.make_node('Conv', ins, ['y'], kernel_shape=list(k), strides=list(s), pads=list(p), dilations=list(d), group=g)
    save(name, [node], [('x', x)], [('y', y)], [('w', w)] + ([('b', b)] if bias else []))
    # same with a fused Relu after it (exercises fusion when the graph pass exists)
    node2 = helper.make_node('Relu', ['y'], ['z'])
    save(name + '_relu', [node, node2], [('x', x)], [('z', np.maximum(y, 0))], [('w', w)] + ([('b', b)] if bias else []))
# A 7x7 stride-2 stem over a wide input (im2col in blocks of output rows); positive data, so
# that no output is a near-cancelling sum of 147 terms (float32 order effects)
x = np.abs(F(2, 3, 100, 90)); w = np.abs(F(8, 3, 7, 7)); b = F(8)
y = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), 2, 3).numpy()
save('conv2d_stem_7x7_s2', [helper.make_node('Conv', ['x', 'w', 'b'], ['y'], strides=[2, 2], pads=[3] * 4)], [('x', x)], [('y', y)], [('w', w), ('b', b)])
# 1-D and 3-D
x = F(2, 4, 15); w = F(6, 2, 4); b = F(6)
y = torch.nn.functional.conv1d(torch.nn.functional.pad(torch.from_numpy(x), (2, 1)), torch.from_numpy(w), torch.from_numpy(b), 2, 0, 2, 2).numpy()
save('conv1d_g2', [helper.make_node('Conv', ['x', 'w', 'b'], ['y'], strides=[2], pads=[2, 1], dilations=[2], group=2)], [('x', x)], [('y', y)], [('w', w), ('b', b)])
x = F(1, 4, 5, 6, 7); w = F(4, 1, 3, 3, 3); b = F(4)
y = torch.nn.functional.conv3d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), (1, 2, 1), 1, 1, 4).numpy()
save('conv3d_dw', [helper.make_node('Conv', ['x', 'w', 'b'], ['y'], strides=[1, 2, 1], pads=[1] * 6, group=4)], [('x', x)], [('y', y)], [('w', w), ('b', b)])
# 3-D Conv by depth slices (conv_depth.c): depth strides, dilations and asymmetric pads (taps
# on depth padding skipped, an output depth fed by no tap), groups, W as an input (weights
# rearranged per run), a residual + Relu, a 1-deep kernel, and a 17-wide one (declined: im2col)
for (c, m, g, n, dhw, k, s, p, d, w_in, res) in [
    (3, 8, 1, 2, (6, 9, 10), (3, 7, 7), (1, 2, 2), (1, 3, 3, 1, 3, 3), (1, 1, 1), False, False),
    (4, 6, 1, 1, (7, 8, 9), (3, 3, 3), (2, 1, 2), (2, 1, 0, 0, 1, 1), (2, 1, 1), False, True),
    (6, 4, 2, 2, (4, 5, 6), (2, 3, 3), (3, 1, 1), (3, 1, 1, 3, 1, 1), (1, 2, 1), True, False),
    (4, 5, 1, 1, (3, 6, 6), (1, 3, 3), (1, 1, 1), (0, 1, 1, 0, 1, 1), (1, 1, 1), False, True),
    (3, 4, 1, 1, (3, 4, 20), (2, 1, 17), (1, 1, 1), (1, 0, 0, 0, 0, 0), (1, 1, 1), False, False),
    ]:
    x = F(n, c, *dhw); w = F(m, c // g, *k); b = F(m)
    xt = torch.nn.functional.pad(torch.from_numpy(x), (p[2], p[5], p[1], p[4], p[0], p[3]))
    y = torch.nn.functional.conv3d(xt, torch.from_numpy(w), torch.from_numpy(b), s, 0, d, g).numpy()
    name = f'conv3d_c{c}m{m}g{g}_k{"".join(map(str, k))}_s{"".join(map(str, s))}_d{"".join(map(str, d))}'
    nodes = [helper.make_node('Conv', ['x', 'w', 'b'], ['t' if res else 'y'], kernel_shape=list(k), strides=list(s), pads=list(p), dilations=list(d), group=g)]
    ins, inits = [('x', x)], [('b', b)]
    (ins if w_in else inits).append(('w', w))
    if res:
        r = F(*y.shape)
        nodes += [helper.make_node('Add', ['t', 'r'], ['u']), helper.make_node('Relu', ['u'], ['y'])]
        ins.append(('r', r))
        y = np.maximum(y + r, 0)
    save(name + ('_res_relu' if res else '') + ('_w_input' if w_in else ''), nodes, ins, [('y', y.astype(np.float32))], inits)
# Pad with no pads (a view of X, DenseNet's before each AveragePool) feeding a pool, and
# constant / reflect pads with a crop on the last axis (rows copied as runs)
x = F(1, 3, 6, 6)
y = x.reshape(1, 3, 3, 2, 3, 2).mean(axis=(3, 5))
save('pad_none_avgpool', [helper.make_node('Pad', ['x', 'p'], ['t'], mode='constant'), helper.make_node('AveragePool', ['t'], ['y'], kernel_shape=[2, 2], strides=[2, 2])],
     [('x', x)], [('y', y)], [('p', np.zeros(8, np.int64))])
for mode in ('constant', 'reflect'):
    x = F(2, 3, 5, 7)
    y = np.pad(x, ((0, 0), (1, 0), (2, 1), (0, 2)), mode=mode)[..., 1:]
    save(f'pad_{mode}_crop_last', [helper.make_node('Pad', ['x', 'p'], ['y'], mode=mode)], [('x', x)], [('y', np.ascontiguousarray(y))],
         [('p', np.array([0, 1, 2, -1, 0, 0, 1, 2], np.int64))])
# SAME_UPPER / SAME_LOWER with stride 2 on even input (asymmetric pads)
for ap in ['SAME_UPPER', 'SAME_LOWER']:
    x = F(1, 3, 8, 8); w = F(4, 3, 3, 3)
    pad = (0, 1, 0, 1) if ap == 'SAME_UPPER' else (1, 0, 1, 0)
    y = torch.nn.functional.conv2d(torch.nn.functional.pad(torch.from_numpy(x), pad), torch.from_numpy(w), None, 2).numpy()
    save(f'conv_{ap}', [helper.make_node('Conv', ['x', 'w'], ['y'], strides=[2, 2], auto_pad=ap)], [('x', x)], [('y', y)], [('w', w)])
# ConvTranspose groups / dilations / output_padding
for (c, m, g, k, s, p, op, d) in [(4, 6, 2, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1)), (3, 2, 1, (2, 3), (1, 2), (0, 1), (0, 1), (2, 1)), (2, 2, 2, (3, 3), (3, 3), (2, 2), (0, 2), (1, 1))]:
    x = F(2, c, 5, 6); w = F(c, m // g, *k); b = F(m)
    y = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), s, p, op, g, d).numpy()
    save(f'convt_c{c}m{m}g{g}_s{s[0]}{s[1]}_p{p[0]}{p[1]}_op{op[0]}{op[1]}_d{d[0]}{d[1]}', [helper.make_node('ConvTranspose', ['x', 'w', 'b'], ['y'], strides=list(s), pads=[p[0], p[1], p[0], p[1]], output_padding=list(op), dilations=list(d), group=g)], [('x', x)], [('y', y)], [('w', w), ('b', b)])
# pooling with ceil_mode / dilation vs torch
for (k, s, p, d, ceil, hw) in [((3, 3), (2, 2), (1, 1), (1, 1), True, (10, 11)), ((2, 2), (2, 2), (0, 0), (1, 1), True, (10, 11)),
                               ((3, 2), (2, 3), (1, 0), (2, 1), True, (10, 11)), ((3, 3), (2, 2), (1, 1), (1, 1), False, (10, 11)),
                               # the row-by-row MaxPool path: ResNet's stem on wide rows, stride 1, kernel 1 x 4
                               ((3, 3), (2, 2), (1, 1), (1, 1), False, (9, 57)), ((3, 3), (1, 1), (1, 1), (1, 1), False, (6, 40)),
                               ((1, 4), (1, 3), (0, 2), (1, 1), True, (5, 23))]:
    x = F(2, 3, *hw)
    y = torch.nn.functional.max_pool2d(torch.from_numpy(x), k, s, p, d, ceil).numpy()
    save(f'maxpool_k{k[0]}{k[1]}_s{s[0]}{s[1]}_p{p[0]}{p[1]}_d{d[0]}{d[1]}_c{int(ceil)}_{hw[1]}', [helper.make_node('MaxPool', ['x'], ['y'], kernel_shape=list(k), strides=list(s), pads=[p[0], p[1], p[0], p[1]], dilations=list(d), ceil_mode=int(ceil))], [('x', x)], [('y', y)])
    if d == (1, 1):
        for cip in (0, 1):
            y = torch.nn.functional.avg_pool2d(torch.from_numpy(x), k, s, p, ceil, bool(cip)).numpy()
            save(f'avgpool_k{k[0]}{k[1]}_s{s[0]}{s[1]}_p{p[0]}{p[1]}_c{int(ceil)}_cip{cip}_{hw[1]}', [helper.make_node('AveragePool', ['x'], ['y'], kernel_shape=list(k), strides=list(s), pads=[p[0], p[1], p[0], p[1]], ceil_mode=int(ceil), count_include_pad=cip)], [('x', x)], [('y', y)])
# 1-D MaxPool and depthwise Conv (leading unit dims in the 2-D paths)
x = F(2, 3, 50)
y = torch.nn.functional.max_pool1d(torch.from_numpy(x), 3, 2, 1).numpy()
save('maxpool1d_k3_s2_p1', [helper.make_node('MaxPool', ['x'], ['y'], kernel_shape=[3], strides=[2], pads=[1, 1])], [('x', x)], [('y', y)])
w = F(6, 1, 5); b = F(6)
y = torch.nn.functional.conv1d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), 2, 2, 1, 3).numpy()
save('conv1d_dw_mult2', [helper.make_node('Conv', ['x', 'w', 'b'], ['y'], strides=[2], pads=[2, 2], group=3)], [('x', x)], [('y', y)], [('w', w), ('b', b)])
x = F(2, 3, 9, 9)
y = torch.nn.functional.lp_pool2d(torch.from_numpy(x), 2, 3, 2).numpy()
save('lppool_p2', [helper.make_node('LpPool', ['x'], ['y'], kernel_shape=[3, 3], strides=[2, 2], p=2)], [('x', x)], [('y', y)], opset=11)
y = np.sqrt((x ** 2).sum(axis=(2, 3), keepdims=True))
# GlobalAveragePool over planes longer and shorter than the kernel's 16 partial sums, with an
# offset that a float running sum would lose precision on
for hw in [(1, 7), (37, 41)]:
    xg = F(2, 3, *hw) + 100.0
    save(f'globalavgpool_{hw[0]}x{hw[1]}', [helper.make_node('GlobalAveragePool', ['x'], ['y'])], [('x', xg)],
         [('y', xg.astype(np.float64).mean(axis=(2, 3), keepdims=True).astype(np.float32))])
save('globallppool', [helper.make_node('GlobalLpPool', ['x'], ['y'])], [('x', x)], [('y', y)])
# MatMul broadcasting
for sa, sb in [((3,), (3,)), ((3,), (2, 3, 4)), ((2, 5, 3), (3,)), ((2, 1, 4, 3), (5, 3, 6)), ((1, 4, 3), (2, 3, 6)), ((4, 3), (2, 3, 6)), ((2, 2, 4, 3), (3, 6)), ((0, 3), (3, 4)), ((2, 0), (0, 3))]:
    a = F(*sa); bm = F(*sb); y = np.matmul(a, bm).astype(np.float32)
    save(f'matmul_{"x".join(map(str,sa))}_{"x".join(map(str,sb))}', [helper.make_node('MatMul', ['a', 'b'], ['y'])], [('a', a), ('b', bm)], [('y', y)])
# Softmax over a middle axis, opset 11 flatten and opset 13
x = F(2, 3, 4, 5)
for ax in (0, 1, 2, 3, -1):
    for op, fn in (('Softmax', torch.softmax), ('LogSoftmax', torch.log_softmax)):
        y = fn(torch.from_numpy(x), ax).numpy()
        save(f'{op.lower()}_13_ax{ax}', [helper.make_node(op, ['x'], ['y'], axis=ax)], [('x', x)], [('y', y)])
        y = fn(torch.from_numpy(x).reshape(int(np.prod(x.shape[:ax % 4])), -1), 1).reshape(x.shape).numpy()
        save(f'{op.lower()}_11_ax{ax}', [helper.make_node(op, ['x'], ['y'], axis=ax)], [('x', x)], [('y', y)], opset=11)
# Softmax long rows (vectorized exp path), with -inf mask values
x = F(3, 1000) * 10; x[0, :500] = -np.inf
save('softmax_long', [helper.make_node('Softmax', ['x'], ['y'], axis=-1)], [('x', x)], [('y', torch.softmax(torch.from_numpy(x), -1).numpy())])
# LayerNorm with broadcast scale
x = F(2, 3, 4); sc = F(1, 4); bb = F(4)
y = torch.nn.functional.layer_norm(torch.from_numpy(x), (3, 4), torch.from_numpy(np.broadcast_to(sc, (3, 4)).copy()), torch.from_numpy(np.broadcast_to(bb, (3, 4)).copy())).numpy()
save('layernorm_bcast', [helper.make_node('LayerNormalization', ['x', 's', 'b'], ['y'], axis=1)], [('x', x)], [('y', y)], [('s', sc), ('b', bb)], opset=17)
# MVN custom axes
x = F(2, 3, 4, 5); mu = x.mean(axis=(1, 3), keepdims=True); sd = np.sqrt((x ** 2).mean(axis=(1, 3), keepdims=True) - mu ** 2)
save('mvn_axes13', [helper.make_node('MeanVarianceNormalization', ['x'], ['y'], axes=[1, 3])], [('x', x)], [('y', ((x - mu) / (sd + 1e-9)).astype(np.float32))])
# Gemm with C row vector and column vector
a = F(4, 3); bm = F(5, 3)
for cs in [(5,), (4, 1), (1, 5), ()]:
    cc = F(*cs) if cs else np.array(0.7, dtype=np.float32)
    y = (0.5 * a @ bm.T + 2.0 * cc).astype(np.float32)
    save(f'gemm_c{"x".join(map(str, cs)) or "scalar"}', [helper.make_node('Gemm', ['a', 'b', 'c'], ['y'], alpha=0.5, beta=2.0, transB=1)], [('a', a), ('b', bm), ('c', cc)], [('y', y)])
# Patterns the load-time fusion pass rewrites (MatMul + Add bias, Gemm + Relu, Conv + Clip as
# ReLU6): the fused nodes must give the unfused results.
x = F(2, 5, 8); wm = F(8, 6); bv = F(6)
save('fuse_matmul_add_relu', [helper.make_node('MatMul', ['x', 'w'], ['t']), helper.make_node('Add', ['t', 'b'], ['u']),
     helper.make_node('Relu', ['u'], ['y'])], [('x', x)], [('y', np.maximum(x @ wm + bv, 0).astype(np.float32))], [('w', wm), ('b', bv)])
a = F(3, 8); wg = F(4, 8); bg = F(4)
save('fuse_gemm_relu', [helper.make_node('Gemm', ['a', 'w', 'b'], ['t'], transB=1), helper.make_node('Relu', ['t'], ['y'])],
     [('a', a)], [('y', np.maximum(a @ wg.T + bg, 0).astype(np.float32))], [('w', wg), ('b', bg)])
for g_ in (1, 4):
    x = F(2, 4, 9, 9); wc = F(8, 4 // g_, 3, 3); bc = F(8)
    y = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(wc), torch.from_numpy(bc), 2, 1, 1, g_).clamp(0, 6).numpy()
    save(f'fuse_conv_clip_g{g_}', [helper.make_node('Conv', ['x', 'w', 'b'], ['t'], strides=[2, 2], pads=[1] * 4, group=g_),
         helper.make_node('Clip', ['t', 'lo', 'hi'], ['y'])], [('x', x)], [('y', y)],
         [('w', wc), ('b', bc), ('lo', np.array(0, np.float32)), ('hi', np.array(6, np.float32))])
# Erf (vectorized float32 kernel) and the exact GELU as exporters write it, which the fusion
# pass turns into one Gelu node (and, after a MatMul + bias, into the MatMul): x / sqrt 2 or
# x * (1 / sqrt 2), the 0.5 applied last, first or to (1 + erf), operands in either order.
x = F(4, 1000) * 3; x[0, :4] = [0.0, -0.0, 20.0, -20.0]
save('erf_wide', [helper.make_node('Erf', ['x'], ['y'])], [('x', x)], [('y', torch.erf(torch.from_numpy(x).double()).float().numpy())])
S = lambda name, v: (name, np.array(v, np.float32))
gelu_ref = lambda v: torch.nn.functional.gelu(torch.from_numpy(v).double()).float().numpy()
x = F(2, 3, 300) * 4
gelu_variants = {
    'torch': ([helper.make_node('Div', ['x', 'sq2'], ['d']), helper.make_node('Erf', ['d'], ['e']), helper.make_node('Add', ['e', 'one'], ['a']),
               helper.make_node('Mul', ['x', 'a'], ['m']), helper.make_node('Mul', ['m', 'half'], ['y'])], [S('sq2', np.sqrt(2)), S('one', 1), S('half', 0.5)]),
    'half_first': ([helper.make_node('Mul', ['x', 'half'], ['h']), helper.make_node('Mul', ['x', 'isq2'], ['d']), helper.make_node('Erf', ['d'], ['e']),
                    helper.make_node('Add', ['one', 'e'], ['a']), helper.make_node('Mul', ['a', 'h'], ['y'])], [S('isq2', 1 / np.sqrt(2)), S('one', 1), S('half', 0.5)]),
    'half_of_sum': ([helper.make_node('Mul', ['isq2', 'x'], ['d']), helper.make_node('Erf', ['d'], ['e']), helper.make_node('Add', ['e', 'one'], ['a']),
                     helper.make_node('Mul', ['half', 'a'], ['h']), helper.make_node('Mul', ['h', 'x'], ['y'])], [S('isq2', 1 / np.sqrt(2)), S('one', 1), S('half', 0.5)]),
}
for name, (nodes, consts) in gelu_variants.items():
    save(f'gelu_{name}', nodes, [('x', x)], [('y', gelu_ref(x))], consts)
# same shape with 1.5 for sqrt 2: not a GELU, must not be fused
xd = torch.from_numpy(x).double()
save('gelu_like_not_fused', gelu_variants['torch'][0], [('x', x)], [('y', (xd * 0.5 * (1 + torch.erf(xd / 1.5))).float().numpy())],
     [S('sq2', 1.5), S('one', 1), S('half', 0.5)])
x = F(2, 7, 16); wm = F(16, 40); bv = F(40)
nodes, consts = gelu_variants['torch']
save('fuse_matmul_add_gelu', [helper.make_node('MatMul', ['x', 'w'], ['t']), helper.make_node('Add', ['bb', 't'], ['u'])] +
     [helper.make_node(n.op_type, ['u' if i == 'x' else i for i in n.input], n.output) for n in nodes],
     [('x', x)], [('y', gelu_ref((x.astype(np.float64) @ wm + bv).astype(np.float32)))], [('w', wm), ('bb', bv)] + consts)
# Attention as exported (reshape to heads, transposes, scaled scores, softmax): the fusion
# pass folds the transposes into the MatMuls' strides and the scale into the GEMM.
B_, T_, H_, D_ = 2, 5, 3, 4
q, k, v = F(B_, T_, H_ * D_), F(B_, T_, H_ * D_), F(B_, T_, H_ * D_)
shp = ('shp', np.array([-1, T_, H_, D_], np.int64)); shp2 = ('shp2', np.array([-1, T_, H_ * D_], np.int64))
qh = q.reshape(B_, T_, H_, D_).transpose(0, 2, 1, 3); kh = k.reshape(B_, T_, H_, D_).transpose(0, 2, 3, 1)
vh = v.reshape(B_, T_, H_, D_).transpose(0, 2, 1, 3)
sc = torch.softmax(torch.from_numpy(qh @ kh).double() / 2.0, -1).numpy()
y = (sc @ vh).transpose(0, 2, 1, 3).reshape(B_, T_, H_ * D_).astype(np.float32)
for scale_op in ('Mul', 'Div'):
    save(f'attention_{scale_op.lower()}', [helper.make_node('Reshape', ['q', 'shp'], ['q4']), helper.make_node('Transpose', ['q4'], ['qt'], perm=[0, 2, 1, 3]),
         helper.make_node('Reshape', ['k', 'shp'], ['k4']), helper.make_node('Transpose', ['k4'], ['kt'], perm=[0, 2, 3, 1]),
         helper.make_node('Reshape', ['v', 'shp'], ['v4']), helper.make_node('Transpose', ['v4'], ['vt'], perm=[0, 2, 1, 3]),
         helper.make_node('MatMul', ['qt', 'kt'], ['s']), helper.make_node(scale_op, ['s', 'c'], ['ss']),
         helper.make_node('Softmax', ['ss'], ['p'], axis=-1), helper.make_node('MatMul', ['p', 'vt'], ['o']),
         helper.make_node('Transpose', ['o'], ['ot'], perm=[0, 2, 1, 3]), helper.make_node('Reshape', ['ot', 'shp2'], ['y'])],
         [('q', q), ('k', k), ('v', v)], [('y', y)], [shp, shp2, ('c', np.array(0.5 if scale_op == 'Mul' else 2.0, np.float32))])
# MatMul's in-place permutations directly (the attributes the fusion writes), including ones
# BLAS cannot take (copied), the transposed result, float64 and int64
a = F(3, 4, 5); bm = F(4, 6)
save('matmul_perm_a_copy', [helper.make_node('MatMul', ['a', 'b'], ['y'], inferd_perm_a=[2, 0, 1])], [('a', a), ('b', bm)],
     [('y', a.transpose(2, 0, 1) @ bm)])
a = F(2, 4, 5); bm = F(2, 6, 4)
save('matmul_perm_ab_y', [helper.make_node('MatMul', ['a', 'b'], ['y'], inferd_perm_a=[0, 2, 1], inferd_perm_b=[0, 2, 1], inferd_perm_y=[2, 0, 1])],
     [('a', a), ('b', bm)], [('y', (a.transpose(0, 2, 1) @ bm.transpose(0, 2, 1)).transpose(2, 0, 1))])
a = F(4, 3, 2); bm = F(4, 6)
save('matmul_perm_y_rows', [helper.make_node('MatMul', ['a', 'b'], ['y'], inferd_perm_a=[2, 1, 0], inferd_perm_y=[1, 0, 2])],
     [('a', a), ('b', bm)], [('y', (a.transpose(2, 1, 0) @ bm).transpose(1, 0, 2))])
for dt in (np.float64, np.int64):
    a = (F(2, 3, 4) * 10).astype(dt); bm = (F(2, 5, 4) * 10).astype(dt)
    save(f'matmul_perm_b_{np.dtype(dt).name}', [helper.make_node('MatMul', ['a', 'b'], ['y'], inferd_perm_b=[0, 2, 1], inferd_perm_y=[1, 0, 2])],
         [('a', a), ('b', bm)], [('y', (a @ bm.transpose(0, 2, 1)).transpose(1, 0, 2))])
    b2 = (F(3, 5) * 10).astype(dt)
    save(f'matmul_perm_a_copy_{np.dtype(dt).name}', [helper.make_node('MatMul', ['a', 'b'], ['y'], inferd_perm_a=[2, 0, 1])],
         [('a', a), ('b', b2)], [('y', a.transpose(2, 0, 1) @ b2)])
# MatMul + bias + residual Add (fused: the residual is written in with the bias), with a
# residual of the result's shape, one that broadcasts into it and one that widens it
x = F(2, 3, 6); wm = F(6, 5); bv = F(5)
for rname, r in (('same', F(2, 3, 5)), ('bcast', F(3, 1)), ('wider', F(4, 2, 3, 5))):
    y = (x.astype(np.float64) @ wm + bv + r).astype(np.float32)
    save(f'fuse_matmul_add_residual_{rname}', [helper.make_node('MatMul', ['x', 'w'], ['t']), helper.make_node('Add', ['t', 'bb'], ['u']),
         helper.make_node('Add', ['r', 'u'], ['y'])], [('x', x), ('r', r)], [('y', y)], [('w', wm), ('bb', bv)])
# Conv + Add (residual) [+ Relu]: same-shape residual in either operand order, depthwise,
# images sharing a GEMM, no bias, and residuals that broadcast (the Add then runs in the Conv)
conv = lambda x, w, b, s, p, g: torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b), s, p, 1, g).numpy()
for (name, n, c, m, g, hw, k, s_, p_, bias, rshape, relu, swap) in [
    ('3x3_relu', 2, 4, 6, 1, (9, 9), 3, 1, 1, True, None, True, False),
    ('3x3_swap_nobias', 1, 4, 6, 1, (9, 9), 3, 2, 1, False, None, False, True),
    ('dw_relu', 2, 6, 6, 6, (10, 11), 3, 1, 1, True, None, True, False),
    ('1x1_shared_gemm', 5, 8, 8, 1, (4, 5), 1, 1, 0, True, None, True, False),
    ('bcast_channel', 2, 4, 6, 1, (7, 7), 3, 1, 1, True, (1, 6, 1, 1), True, True),
    ('bcast_batch', 1, 4, 6, 1, (7, 7), 3, 1, 1, True, (3, 6, 7, 7), True, False)]:
    x = F(n, c, *hw); w = F(m, c // g, k, k); b = F(m) if bias else None
    y = conv(x, w, b, s_, p_, g)
    r = F(*(rshape or y.shape)); z = y + r
    if relu: z = np.maximum(z, 0)
    nodes = [helper.make_node('Conv', ['x', 'w'] + (['b'] if bias else []), ['t'], kernel_shape=[k, k], strides=[s_, s_], pads=[p_] * 4, group=g),
             helper.make_node('Add', ['r', 't'] if swap else ['t', 'r'], ['u' if relu else 'y'])]
    if relu: nodes.append(helper.make_node('Relu', ['u'], ['y']))
    save(f'fuse_conv_add_{name}', nodes, [('x', x), ('r', r)], [('y', z.astype(np.float32))], [('w', w)] + ([('b', b)] if bias else []))
# Conv by taps (stride 1, no im2col) + residual + Relu; positive data, so that no output is a
# near-cancelling sum of 72 terms
x = np.abs(F(2, 8, 40, 40)); w = np.abs(F(8, 8, 3, 3)); b = F(8); r = np.abs(F(2, 8, 40, 40))
z = np.maximum(conv(x, w, b, 1, 1, 1) + r, 0)
save('fuse_conv_add_taps_relu', [helper.make_node('Conv', ['x', 'w', 'b'], ['t'], pads=[1] * 4), helper.make_node('Add', ['t', 'r'], ['u']),
     helper.make_node('Relu', ['u'], ['y'])], [('x', x), ('r', r)], [('y', z)], [('w', w), ('b', b)])
# Winograd F(2x2, 3x3) (3x3 stride 1, >= 16 channels each way): odd output sizes (partial
# tiles), asymmetric pads, batches, with the fused residual and Relu; positive data, so that no
# output is a near-cancelling sum (the tolerance is relative)
for (name, n, c, m, hw, p, add, relu) in [
    ('odd_add_relu', 2, 16, 24, (13, 11), (1, 1, 1, 1), True, True),
    ('asym_pads', 1, 20, 16, (17, 22), (2, 0, 1, 3), False, False),
    ('no_pads_relu', 1, 16, 16, (20, 19), (0, 0, 0, 0), False, True),
    ('resnet_stage2_add_relu', 1, 64, 64, (28, 28), (1, 1, 1, 1), True, True),
    ('batch4_relu', 4, 32, 32, (14, 14), (1, 1, 1, 1), False, True)]:
    x = np.abs(F(n, c, *hw)); w = np.abs(F(m, c, 3, 3)); b = np.abs(F(m))
    xt = torch.nn.functional.pad(torch.from_numpy(x), (p[1], p[3], p[0], p[2]))
    z = torch.nn.functional.conv2d(xt, torch.from_numpy(w), torch.from_numpy(b)).numpy()
    nodes = [helper.make_node('Conv', ['x', 'w', 'b'], ['t'], pads=list(p))]
    ins = [('x', x)]
    if add:
        r = np.abs(F(*z.shape)); z = z + r; ins.append(('r', r))
        nodes.append(helper.make_node('Add', ['t', 'r'], ['u']))
    if relu:
        z = np.maximum(z, 0)
        nodes.append(helper.make_node('Relu', [nodes[-1].output[0]], ['y']))
    if not add and not relu: nodes[0].output[0] = 'y'
    else: nodes[-1].output[0] = 'y'
    save(f'conv_winograd_{name}', nodes, ins, [('y', z.astype(np.float32))], [('w', w), ('b', b)])
# 1x1 Conv -> [Clip] -> depthwise Conv [-> Clip] (fuse_conv_dw.c: the depthwise Conv computes
# the expansion in bands of rows when one image's is over 1 MiB, else whole): stride 1 and 2,
# odd sizes, asymmetric pads, a dilated 5x5 window, channel multiplier 2, no biases; positive
# data, weights scaled so that the Clips do not saturate everything
for (name, n, c, e, hw, k, s_, p, d, mult, clip, bias) in [
    ('s1_clip', 1, 16, 96, (56, 60), 3, 1, (1, 1, 1, 1), 1, 1, True, True),
    ('s2_odd_pads', 2, 8, 64, (65, 71), 3, 2, (0, 1, 1, 0), 1, 1, False, False),
    ('5x5_dil2', 1, 8, 64, (70, 70), 5, 1, (4, 4, 4, 4), 2, 1, True, True),
    ('mult2_small', 2, 8, 32, (10, 10), 3, 1, (1, 1, 1, 1), 1, 2, True, True),
    ('5x5_wide_clip', 1, 8, 48, (40, 100), 5, 1, (2, 2, 2, 2), 1, 1, True, True),
    ('wide_noclip', 1, 8, 48, (30, 64), 3, 1, (1, 1, 1, 1), 1, 1, False, True)]:
    x = np.abs(F(n, c, *hw)); we = 0.2 * np.abs(F(e, c, 1, 1)); be = np.abs(F(e))
    wd = 0.3 * np.abs(F(e * mult, 1, k, k)); bd = np.abs(F(e * mult))
    t = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(we), torch.from_numpy(be) if bias else None)
    if clip: t = t.clamp(0, 6)
    t = torch.nn.functional.pad(t, (p[1], p[3], p[0], p[2]))
    z = torch.nn.functional.conv2d(t, torch.from_numpy(wd), torch.from_numpy(bd) if bias else None, s_, 0, d, e)
    if clip: z = z.clamp(0, 6)
    lo, hi = np.array(0, np.float32), np.array(6, np.float32)
    nodes = [helper.make_node('Conv', ['x', 'we'] + (['be'] if bias else []), ['t'])]
    if clip: nodes.append(helper.make_node('Clip', ['t', 'lo', 'hi'], ['tc']))
    nodes.append(helper.make_node('Conv', ['tc' if clip else 't', 'wd'] + (['bd'] if bias else []), ['u' if clip else 'y'],
                                  kernel_shape=[k, k], strides=[s_, s_], pads=list(p), dilations=[d, d], group=e))
    if clip: nodes.append(helper.make_node('Clip', ['u', 'lo', 'hi'], ['y']))
    inits = [('we', we), ('wd', wd)] + ([('be', be), ('bd', bd)] if bias else []) + ([('lo', lo), ('hi', hi)] if clip else [])
    save(f'fuse_expand_dw_{name}', nodes, [('x', x)], [('y', z.numpy())], inits)
# Long, narrow GEMMs run the other way round (conv_tgemm.c: M >= 256, K >= 2048): 3x3 at 7x7
# with the residual and Relu, images sharing one GEMM, stride 2, a 1x1 without bias, one
# output position; positive data (the sums are over thousands of terms)
for (name, n, c, m, hw, k, s_, p_, bias, add) in [
    ('3x3_add_relu', 1, 230, 256, (7, 7), 3, 1, 1, True, True),
    ('3x3_batch3', 3, 230, 256, (7, 7), 3, 1, 1, True, False),
    ('3x3_s2', 2, 240, 264, (9, 8), 3, 2, 1, True, False),
    ('1x1_nobias', 1, 2048, 256, (3, 5), 1, 1, 0, False, False),
    ('3x3_1pos', 1, 256, 256, (1, 1), 3, 1, 1, True, True)]:
    x = np.abs(F(n, c, *hw)); w = np.abs(F(m, c, k, k)) / (c * k * k); b = F(m) if bias else None
    z = conv(x, w, b, s_, p_, 1)
    nodes = [helper.make_node('Conv', ['x', 'w'] + (['b'] if bias else []), ['t' if add else 'y'], kernel_shape=[k, k], strides=[s_, s_], pads=[p_] * 4)]
    ins = [('x', x)]
    if add:
        r = F(*z.shape); z = np.maximum(z + r, 0); ins.append(('r', r))
        nodes += [helper.make_node('Add', ['t', 'r'], ['u']), helper.make_node('Relu', ['u'], ['y'])]
    save(f'conv_tgemm_{name}', nodes, ins, [('y', z.astype(np.float32))], [('w', w)] + ([('b', b)] if bias else []))
# Two Convs into one Add: the Add fuses into the later one, whose residual then already exists
x = F(1, 4, 6, 6); w = F(4, 4, 3, 3); w2 = F(4, 4, 1, 1)
z = conv(x, w, None, 1, 1, 1) + conv(x, w2, None, 1, 0, 1)
save('fuse_conv_add_late_residual', [helper.make_node('Conv', ['x', 'w'], ['t'], pads=[1] * 4), helper.make_node('Conv', ['x', 'w2'], ['r']),
     helper.make_node('Add', ['t', 'r'], ['y'])], [('x', x)], [('y', z)], [('w', w), ('w2', w2)])
print(n_cases, 'cases')
