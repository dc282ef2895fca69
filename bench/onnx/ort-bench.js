#!/usr/bin/env node
// Reference runner for bench/onnx/run: benchmarks a model with ONNX Runtime
// (onnxruntime-node, CPU, one intra-op thread) and prints the same lines as
// `inferd-onnx bench`; with --dump-outputs it runs given .npy inputs once and
// writes every output as DIR/<output>.npy, so the two runtimes can be compared.
'use strict';

const fs = require('fs');
const path = require('path');

const USAGE = `usage:
  node ort-bench.js MODEL [--batch N] [--seconds S] [--threads T] [--dim NAME=V]... [--profile]
  node ort-bench.js MODEL --input NAME=FILE.npy... --dump-outputs DIR

bench mode: random inputs (symbolic first dim = batch, other symbolic dims 1 or
--dim NAME=V), runs for S seconds after a short warm-up, prints
  throughput: X inferences/s      (inferences = batch * runs / elapsed)
  latency p50: A ms p99: B ms     (per run, i.e. per batch)
  peak rss: M MB
  cpu: C ms per inference         (user + sys CPU time of the timed runs, all threads)
--profile: ONNX Runtime's own profiler on (it costs time), then per node the median kernel
time over the timed runs (the nodes of ORT's optimised graph, e.g. NCHWc Convs) and which CPUs
its calling thread and pool threads ran on (its thread_scheduling_stats).
dump mode: runs once on the given inputs (random for inputs not given) and
writes DIR/<output>.npy (float32/float64/int64/int32/uint8/bool).
Options: --batch 1, --seconds 5, --threads 1 (intra-op), --seed 1.`;

function loadOrt() {
  // Normal resolution first (npm install in bench/onnx), then the copy that
  // bench/onnx/run installs into the untracked bench/out/npm.
  try {
    return require('onnxruntime-node');
  } catch (e) {
    const alt = path.join(__dirname, '..', 'out', 'npm', 'node_modules', 'onnxruntime-node');
    try {
      return require(alt);
    } catch (e2) {
      fail('onnxruntime-node not found; run `npm ci` in bench/onnx or bench/onnx/run (installs into bench/out/npm)');
    }
  }
  return null;
}

function fail(msg) {
  process.stderr.write(`ort-bench: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const a = { model: null, batch: 1, seconds: 5, threads: 1, seed: 1, dims: {}, inputs: {}, dump: null, profile: false };
  const need = (i) => {
    if (i + 1 >= argv.length) fail(`${argv[i]} needs a value`);
    return argv[i + 1];
  };
  const posInt = (s, what, min) => {
    if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > 1e9) fail(`bad ${what}: ${s}`);
    return Number(s);
  };
  const keyVal = (s, what) => {
    const eq = s.indexOf('=');
    if (eq <= 0 || eq === s.length - 1) fail(`${what} must be NAME=VALUE, got ${s}`);
    return [s.slice(0, eq), s.slice(eq + 1)];
  };
  for (let i = 0; i < argv.length; i++) {
    const o = argv[i];
    if (o === '--help' || o === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else if (o === '--batch') a.batch = posInt(need(i++), 'batch', 1);
    else if (o === '--seconds') {
      const v = Number(need(i++));
      if (!(v > 0 && v <= 3600)) fail(`bad seconds: ${argv[i]}`);
      a.seconds = v;
    } else if (o === '--threads') a.threads = posInt(need(i++), 'threads', 1);
    else if (o === '--seed') a.seed = posInt(need(i++), 'seed', 0);
    else if (o === '--dim') {
      const [k, v] = keyVal(need(i++), '--dim');
      a.dims[k] = posInt(v, `dim ${k}`, 1);
    } else if (o === '--input') {
      const [k, v] = keyVal(need(i++), '--input');
      a.inputs[k] = v;
    } else if (o === '--dump-outputs') a.dump = need(i++);
    else if (o === '--profile') a.profile = true;
    else if (o.startsWith('-')) fail(`unknown option ${o}\n${USAGE}`);
    else if (a.model === null) a.model = o;
    else fail(`unexpected argument ${o}`);
  }
  if (a.model === null) fail(`no MODEL given\n${USAGE}`);
  return a;
}

// ---- .npy (format 1.0-3.0, little-endian, C order) ----

const NPY_TYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
  '|u1': ['uint8', Uint8Array], '|b1': ['bool', Uint8Array],
};
const ORT_TO_NPY = { float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', uint8: '|u1', bool: '|b1' };

function npyRead(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  let hlen, hstart;
  if (major === 1) { hlen = buf.readUInt16LE(8); hstart = 10; }
  else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new Error(`${file}: truncated header`);
    hlen = buf.readUInt32LE(8); hstart = 12;
  } else throw new Error(`${file}: unsupported npy version ${major}`);
  if (hstart + hlen > buf.length) throw new Error(`${file}: truncated header`);
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${file}: bad header ${header.trim()}`);
  if (fortran[1] === 'True') throw new Error(`${file}: Fortran order not supported`);
  const t = NPY_TYPES[descr[1]];
  if (!t) throw new Error(`${file}: dtype ${descr[1]} not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d+$/.test(s)) throw new Error(`${file}: bad shape`);
    return Number(s);
  });
  const count = dims.reduce((p, d) => p * d, 1);
  const start = hstart + hlen;
  const bytes = count * t[1].BYTES_PER_ELEMENT;
  if (!Number.isSafeInteger(bytes) || start + bytes > buf.length) throw new Error(`${file}: data shorter than shape says`);
  const copy = new ArrayBuffer(bytes); // aligned copy for the typed array
  Buffer.from(copy).set(buf.subarray(start, start + bytes));
  let data = new t[1](copy);
  if (t[0] === 'bool') data = Uint8Array.from(data, (v) => (v ? 1 : 0));
  return { type: t[0], dims, data };
}

function npyWrite(file, type, dims, data) {
  const descr = ORT_TO_NPY[type];
  if (!descr) throw new Error(`output type ${type} cannot be written as .npy`);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = type === 'bool' ? Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)))
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

// ---- inputs ----

function makeRng(seed) { // mulberry32: small, deterministic
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function concreteShape(meta, args) {
  return meta.shape.map((d, i) => {
    if (typeof d === 'number' && d >= 0) return d;
    if (typeof d === 'string' && args.dims[d] !== undefined) return args.dims[d];
    return i === 0 ? args.batch : 1;
  });
}

function randomTensor(ort, meta, args, rng) {
  const dims = concreteShape(meta, args);
  const n = dims.reduce((p, d) => p * d, 1);
  switch (meta.type) {
    case 'float32': return new ort.Tensor('float32', Float32Array.from({ length: n }, () => rng() * 2 - 1), dims);
    case 'float64': return new ort.Tensor('float64', Float64Array.from({ length: n }, () => rng() * 2 - 1), dims);
    case 'int64': return new ort.Tensor('int64', new BigInt64Array(n), dims);
    case 'int32': return new ort.Tensor('int32', new Int32Array(n), dims);
    case 'uint8': return new ort.Tensor('uint8', new Uint8Array(n), dims);
    case 'bool': return new ort.Tensor('bool', new Uint8Array(n), dims);
    default: fail(`input ${meta.name}: type ${meta.type} not supported for random inputs`);
  }
  return null;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function median(v) {
  const s = [...v].sort((x, y) => x - y);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

// ORT's profile (a chrome-trace event list): the runs after the first `warm` ones, per node
// the median of its kernel times, and the CPUs its threads were seen on.
function printProfile(events, warm) {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  if (runs.length <= warm) fail('profile: no timed runs recorded');
  const t0 = runs[warm].ts;
  const nodes = new Map();
  const cores = { main: new Map(), pool: new Map() };
  const count = (m, k) => m.set(k, (m.get(k) || 0) + 1);
  for (const e of events) {
    if (e.cat !== 'Node' || e.ts < t0 || !e.name.endsWith('_kernel_time')) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    if (!nodes.has(name)) nodes.set(name, { op: (e.args && e.args.op_name) || '?', durs: [] });
    nodes.get(name).durs.push(e.dur);
    const st = e.args && e.args.thread_scheduling_stats;
    if (st && st.main_thread) count(cores.main, st.main_thread.core);
    if (st && st.sub_threads) for (const t of Object.values(st.sub_threads)) count(cores.pool, t.core);
  }
  const rows = [...nodes].map(([name, n]) => ({ name, op: n.op, us: median(n.durs) }));
  rows.sort((a, b) => b.us - a.us);
  const sum = rows.reduce((p, r) => p + r.us, 0);
  const fmt = (m) => [...m].sort((a, b) => b[1] - a[1]).map(([c, n]) => `cpu ${c} x${n}`).join(', ') || '-';
  process.stdout.write(`profile: ${runs.length - warm} runs, median run ${median(runs.slice(warm).map((r) => r.dur))} us, sum of node medians ${sum} us\n`);
  process.stdout.write(`threads seen on (node events): caller ${fmt(cores.main)}; pool ${fmt(cores.pool)}\n`);
  process.stdout.write('  share  median us  op  node\n');
  for (const r of rows) {
    process.stdout.write(`${((100 * r.us) / sum).toFixed(1).padStart(6)}% ${String(r.us).padStart(9)}  ${r.op}  ${r.name}\n`);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  if (!fs.existsSync(args.model)) fail(`${args.model}: no such file`);
  let session;
  const profDir = args.profile ? fs.mkdtempSync(path.join(require('os').tmpdir(), 'ort-bench-')) : null;
  try {
    const opts = {
      executionProviders: ['cpu'],
      intraOpNumThreads: args.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    };
    if (profDir) Object.assign(opts, { enableProfiling: true, profileFilePrefix: path.join(profDir, 'ort') });
    session = await ort.InferenceSession.create(args.model, opts);
  } catch (e) {
    fail(`${args.model}: ${e.message}`);
  }
  const rng = makeRng(args.seed);
  const feeds = {};
  for (const meta of session.inputMetadata) {
    if (args.inputs[meta.name] !== undefined) {
      let t;
      try { t = npyRead(args.inputs[meta.name]); } catch (e) { fail(e.message); }
      if (t.type !== meta.type) fail(`input ${meta.name}: file has ${t.type}, model wants ${meta.type}`);
      feeds[meta.name] = new ort.Tensor(t.type, t.data, t.dims);
    } else {
      feeds[meta.name] = randomTensor(ort, meta, args, rng);
    }
  }
  for (const name of Object.keys(args.inputs)) {
    if (!session.inputNames.includes(name)) fail(`model has no input named ${name}`);
  }

  if (args.dump !== null) {
    let out;
    try { out = await session.run(feeds); } catch (e) { fail(`run failed: ${e.message}`); }
    fs.mkdirSync(args.dump, { recursive: true });
    for (const name of session.outputNames) {
      const t = out[name];
      npyWrite(path.join(args.dump, `${name}.npy`), t.type, t.dims, t.data);
      process.stdout.write(`wrote ${path.join(args.dump, name + '.npy')} ${t.type} [${t.dims.join(',')}]\n`);
    }
    return;
  }

  // Warm-up: a few runs or up to ~10% of the time, whichever ends first.
  const warmEnd = process.hrtime.bigint() + BigInt(Math.round(args.seconds * 1e8));
  let warm = 0;
  for (let i = 0; i < 3 || process.hrtime.bigint() < warmEnd; i++) {
    await session.run(feeds);
    warm++;
    if (i >= 2 && process.hrtime.bigint() >= warmEnd) break;
  }
  const lat = [];
  const cpu0 = process.cpuUsage(); // all threads of the process, like getrusage(RUSAGE_SELF)
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(args.seconds * 1e9));
  let now = t0;
  while (now < end) {
    const s = process.hrtime.bigint();
    await session.run(feeds);
    now = process.hrtime.bigint();
    lat.push(Number(now - s) / 1e6);
  }
  const elapsed = Number(now - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((x, y) => x - y);
  const rssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
  process.stdout.write(`runtime: onnxruntime-node ${ort.env.versions.node || ''} (cpu, intra-op threads ${args.threads})\n`);
  process.stdout.write(`model: ${args.model} batch: ${args.batch} runs: ${lat.length} seconds: ${elapsed.toFixed(2)}\n`);
  process.stdout.write(`throughput: ${((lat.length * args.batch) / elapsed).toFixed(2)} inferences/s\n`);
  process.stdout.write(`latency p50: ${percentile(lat, 50).toFixed(3)} ms p99: ${percentile(lat, 99).toFixed(3)} ms\n`);
  process.stdout.write(`peak rss: ${rssMb.toFixed(1)} MB\n`);
  process.stdout.write(`cpu: ${((cpu.user + cpu.system) / 1e3 / (lat.length * args.batch)).toFixed(3)} ms per inference (user + sys over the timed runs)\n`);
  if (profDir) {
    session.endProfiling();
    await session.release();
    const files = fs.readdirSync(profDir).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) fail(`profile: expected one file in ${profDir}, found ${files.length}`);
    printProfile(JSON.parse(fs.readFileSync(path.join(profDir, files[0]), 'utf8')), warm);
    fs.rmSync(profDir, { recursive: true, force: true });
  }
}

main().catch((e) => fail(e.stack || String(e)));
