"""Writes ONNX test cases for RNN, GRU and LSTM into DIR (model.onnx + test_data_set_0, the
layout inferd-conformance reads):
    /usr/bin/python3 gen_rnn_cases.py DIR && inferd-conformance DIR
Debian's ONNX test data only has forward single-direction cases. Expected outputs here come
from PyTorch's nn.LSTM / nn.GRU / nn.RNN (bidirectional, reverse via the bidirectional half,
initial states, packed variable-length batches, batch_first as layout=1) and, for what PyTorch
cannot express (GRU linear_before_reset=0, clip, peepholes, input_forget, other activations),
from a direct numpy transcription of the ONNX equations."""
import shutil
import sys

import numpy as np
from case_writer import write_case
import onnx
import torch
from onnx import helper

torch.manual_seed(0)
rng = np.random.default_rng(7)
root = sys.argv[1]
shutil.rmtree(root, ignore_errors=True)
n_cases = 0


def save(name, node, inputs, outputs, opset=14):
    """inputs: (name, array or None for an omitted optional input); outputs likewise."""
    global n_cases
    write_case(root, name, [node], inputs, outputs, opset=opset)
    n_cases += 1


def F(*s):
    return rng.standard_normal(s).astype(np.float32)


# ---- PyTorch references --------------------------------------------------------------------
# ONNX gate order from PyTorch's: LSTM (i f g o) -> (i o f c), GRU (r z n) -> (z r h)
ORDER = {'LSTM': [0, 3, 1, 2], 'GRU': [1, 0, 2], 'RNN': [0]}


def onnx_params(mod, kind, nd, hid):
    def blocks(t):
        t = t.detach().numpy()
        return np.concatenate([t[k * hid:(k + 1) * hid] for k in ORDER[kind]])
    sfx = ['', '_reverse'][:nd]
    W = np.stack([blocks(getattr(mod, 'weight_ih_l0' + s)) for s in sfx])
    R = np.stack([blocks(getattr(mod, 'weight_hh_l0' + s)) for s in sfx])
    B = np.stack([np.concatenate([blocks(getattr(mod, 'bias_ih_l0' + s)), blocks(getattr(mod, 'bias_hh_l0' + s))])
                  for s in sfx])
    return W, R, B


def torch_case(kind, name, seq, batch, inp, hid, bidir, lens=None, init=True, layout=0, nonlin='tanh'):
    nd = 2 if bidir else 1
    cls = {'LSTM': torch.nn.LSTM, 'GRU': torch.nn.GRU, 'RNN': torch.nn.RNN}[kind]
    kw = {'nonlinearity': nonlin} if kind == 'RNN' else {}
    mod = cls(inp, hid, bidirectional=bidir, **kw)
    x = F(seq, batch, inp)
    h0 = F(nd, batch, hid) if init else None
    c0 = F(nd, batch, hid) if init and kind == 'LSTM' else None
    xt = torch.from_numpy(x)
    if lens is not None:
        xt = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lens), enforce_sorted=False)
    state = None
    if init:
        state = (torch.from_numpy(h0), torch.from_numpy(c0)) if kind == 'LSTM' else torch.from_numpy(h0)
    with torch.no_grad():
        y, st = mod(xt, state)
    if lens is not None:
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, total_length=seq)
    y = y.numpy().reshape(seq, batch, nd, hid).transpose(0, 2, 1, 3)
    yh, yc = (st[0].numpy(), st[1].numpy()) if kind == 'LSTM' else (st.numpy(), None)
    W, R, B = onnx_params(mod, kind, nd, hid)
    attrs = dict(hidden_size=hid, direction='bidirectional' if bidir else 'forward')
    if kind == 'GRU':
        attrs['linear_before_reset'] = 1
    if kind == 'RNN':
        attrs['activations'] = [nonlin.capitalize()] * nd
    sl = np.array(lens, np.int32) if lens is not None else None
    if layout:
        attrs['layout'] = 1
        x = x.transpose(1, 0, 2).copy()
        y = y.transpose(2, 0, 1, 3).copy()
        h0, c0, yh = [None if a is None else a.transpose(1, 0, 2).copy() for a in (h0, c0, yh)]
        yc = None if yc is None else yc.transpose(1, 0, 2).copy()
    names = ['X', 'W', 'R', 'B', 'sequence_lens', 'initial_h'] + (['initial_c'] if kind == 'LSTM' else [])
    vals = [x, W, R, B, sl, h0] + ([c0] if kind == 'LSTM' else [])
    ins = [n if v is not None else '' for n, v in zip(names, vals)]
    while ins and ins[-1] == '':
        ins.pop()
    outs = ['Y', 'Y_h'] + (['Y_c'] if kind == 'LSTM' else [])
    node = helper.make_node(kind, ins, outs, **attrs)
    save(name, node, list(zip(names, vals)), list(zip(outs, [y, yh, yc])))


for kind in ['LSTM', 'GRU', 'RNN']:
    k = kind.lower()
    torch_case(kind, f'{k}_bidir_init', 5, 3, 4, 6, True)
    torch_case(kind, f'{k}_fwd_noinit', 4, 2, 3, 5, False, init=False)
    torch_case(kind, f'{k}_bidir_lens', 6, 4, 3, 5, True, lens=[6, 2, 4, 1])
    torch_case(kind, f'{k}_layout1_lens', 5, 3, 4, 3, True, lens=[3, 5, 1], layout=1)
torch_case('RNN', 'rnn_relu_bidir', 4, 2, 3, 4, True, nonlin='relu')


# ---- numpy transcription of the ONNX equations ---------------------------------------------
def act(spec, x):
    name, a, b = spec
    return {'Sigmoid': lambda: 1 / (1 + np.exp(-x)), 'Tanh': lambda: np.tanh(x), 'Relu': lambda: np.maximum(x, 0),
            'LeakyRelu': lambda: np.where(x >= 0, x, a * x), 'HardSigmoid': lambda: np.clip(a * x + b, 0, 1),
            'ScaledTanh': lambda: a * np.tanh(b * x), 'Affine': lambda: a * x + b,
            'Softsign': lambda: x / (1 + np.abs(x)), 'Elu': lambda: np.where(x >= 0, x, a * (np.exp(x) - 1))}[name]()


def np_reference(kind, x, W, R, B, lens, h0, c0, P, acts, clip, lbr, input_forget, reverse_only):
    seq, batch, _ = x.shape
    nd, gh, _ = W.shape
    hid = R.shape[2]
    y = np.zeros((seq, nd, batch, hid), np.float64)
    yh = np.zeros((nd, batch, hid))
    yc = np.zeros((nd, batch, hid))
    cl = (lambda v: np.clip(v, -clip, clip)) if clip else (lambda v: v)
    for d in range(nd):
        rev = d == 1 or reverse_only
        f, g, h = (acts[d] + [None, None])[:3]
        wb, rb = np.split(B[d], 2)
        for bi in range(batch):
            H = h0[d, bi].astype(np.float64)
            C = c0[d, bi].astype(np.float64) if c0 is not None else np.zeros(hid)
            steps = range(lens[bi] - 1, -1, -1) if rev else range(lens[bi])
            for t in steps:
                xt = x[t, bi]
                if kind == 'RNN':
                    H = act(f, cl(W[d] @ xt + R[d] @ H + wb + rb))
                elif kind == 'GRU':
                    Wz, Wr, Wh = np.split(W[d], 3)
                    Rz, Rr, Rh = np.split(R[d], 3)
                    wz, wr, wh = np.split(wb, 3)
                    rz, rr, rh = np.split(rb, 3)
                    z = act(f, cl(Wz @ xt + Rz @ H + wz + rz))
                    r = act(f, cl(Wr @ xt + Rr @ H + wr + rr))
                    if lbr:
                        hh = act(g, cl(Wh @ xt + r * (Rh @ H + rh) + wh))
                    else:
                        hh = act(g, cl(Wh @ xt + Rh @ (r * H) + rh + wh))
                    H = (1 - z) * hh + z * H
                else:
                    gates = W[d] @ xt + R[d] @ H + wb + rb
                    gi, go, gf, gc = np.split(gates, 4)
                    pi, po, pf = np.split(P[d], 3)
                    i = act(f, cl(gi + pi * C))
                    fg = 1 - i if input_forget else act(f, cl(gf + pf * C))
                    c = act(g, cl(gc))
                    C = fg * C + i * c
                    o = act(f, cl(go + po * C))
                    H = o * act(h, C)
                y[t, d, bi] = H
            yh[d, bi] = H
            yc[d, bi] = C
    return y.astype(np.float32), yh.astype(np.float32), yc.astype(np.float32)


def np_case(kind, name, seq=4, batch=3, inp=3, hid=4, direction='bidirectional', acts=None, alphas=None,
            betas=None, clip=None, lbr=0, input_forget=0, peep=False, lens=None, opset=14):
    nd = 2 if direction == 'bidirectional' else 1
    gates = {'RNN': 1, 'GRU': 3, 'LSTM': 4}[kind]
    x = F(seq, batch, inp)
    W, R, B = F(nd, gates * hid, inp) * 0.7, F(nd, gates * hid, hid) * 0.7, F(nd, 2 * gates * hid) * 0.5
    h0 = F(nd, batch, hid)
    c0 = F(nd, batch, hid) if kind == 'LSTM' else None
    P = F(nd, 3 * hid) if peep else np.zeros((nd, 3 * hid), np.float32)
    lens_a = np.array(lens if lens else [seq] * batch, np.int32)
    defaults = {'RNN': ['Tanh'], 'GRU': ['Sigmoid', 'Tanh'], 'LSTM': ['Sigmoid', 'Tanh', 'Tanh']}[kind]
    names = acts if acts else defaults * nd
    na = len(defaults)
    # pair each activation with its alpha/beta, consumed in order by the functions that take them
    A = {'LeakyRelu': (1, 0, 0.01, 0), 'HardSigmoid': (1, 1, 0.2, 0.5), 'ScaledTanh': (1, 1, 1, 1), 'Affine': (1, 1, 1, 0),
         'Elu': (1, 0, 1, 0)}
    ia = ib = 0
    per_dir = []
    for dd in range(nd):
        lst = []
        for k in range(na):
            nm = names[dd * na + k]
            ua, ub, da, db = A.get(nm, (0, 0, 0, 0))
            a, b = da, db
            if ua and alphas and ia < len(alphas):
                a = alphas[ia]; ia += 1
            if ub and betas and ib < len(betas):
                b = betas[ib]; ib += 1
            lst.append((nm, a, b))
        per_dir.append(lst)
    y, yh, yc = np_reference(kind, x, W, R, B, lens_a, h0, c0, P, per_dir, clip, lbr, input_forget,
                             direction == 'reverse')
    attrs = dict(hidden_size=hid, direction=direction)
    if acts:
        attrs['activations'] = acts
    if alphas:
        attrs['activation_alpha'] = alphas
    if betas:
        attrs['activation_beta'] = betas
    if clip:
        attrs['clip'] = clip
    if kind == 'GRU':
        attrs['linear_before_reset'] = lbr
    if input_forget:
        attrs['input_forget'] = 1
    names_in = ['X', 'W', 'R', 'B', 'sequence_lens', 'initial_h'] + (['initial_c', 'P'] if kind == 'LSTM' else [])
    vals = [x, W, R, B, lens_a if lens else None, h0] + ([c0, P if peep else None] if kind == 'LSTM' else [])
    ins = [n if v is not None else '' for n, v in zip(names_in, vals)]
    while ins and ins[-1] == '':
        ins.pop()
    outs = ['Y', 'Y_h'] + (['Y_c'] if kind == 'LSTM' else [])
    node = helper.make_node(kind, ins, outs, **attrs)
    save(name, node, list(zip(names_in, vals)), list(zip(outs, [y, yh, yc if kind == 'LSTM' else None])), opset)


np_case('GRU', 'gru_np_lbr0_bidir_lens', lens=[4, 1, 3])
np_case('GRU', 'gru_np_lbr0_reverse', direction='reverse', opset=7)
np_case('GRU', 'gru_np_lbr1_clip', lbr=1, clip=0.5)
np_case('LSTM', 'lstm_np_peep_clip_bidir', peep=True, clip=0.8, lens=[2, 4, 3])
np_case('LSTM', 'lstm_np_input_forget_reverse', direction='reverse', input_forget=1, peep=True)
np_case('LSTM', 'lstm_np_acts', acts=['HardSigmoid', 'LeakyRelu', 'ScaledTanh', 'Sigmoid', 'Softsign', 'Tanh'],
        alphas=[0.3, 0.05, 1.5], betas=[0.4, 0.8])
np_case('GRU', 'gru_np_acts_defaults', direction='forward', acts=['HardSigmoid', 'Elu'])
np_case('RNN', 'rnn_np_affine_reverse', direction='reverse', acts=['Affine'], alphas=[0.5], betas=[0.1], lens=[0, 2, 4])
np_case('RNN', 'rnn_np_relu_clip', direction='forward', acts=['Relu'], clip=1.0, opset=7)
print(n_cases, 'cases')
