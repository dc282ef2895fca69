# deploy/ checked without a cluster: yamllint, every Kubernetes object parsed and its flags,
# ports, probes and grace periods checked against the binaries (`--help`) and each other;
# the ConfigMap is the bundled repository (regenerated and compared) and, mounted the way
# node.yaml mounts it, serves; the node, gateway, KServe and systemd command lines start the
# real binaries and answer their probes; the Containerfile installs the Debian package of every
# library the built binaries link.
import base64
import configparser
import json
import os
import re
import shlex
import subprocess
import sys

import grpc
import pytest
import yaml

import grpcstubs

from conftest import SOURCE_DIR, bin_path, free_port
from gwharness import Gateway

DEPLOY = os.path.join(SOURCE_DIR, "deploy")
KUBE = os.path.join(DEPLOY, "kubernetes")
# the flags a test harness sets itself (address, ports, repository, node list)
HARNESS_FLAGS = {"--host", "--http-port", "--grpc-port", "--node-grpc-port",
                 "--model-repository", "--node", "--node-dns", "--dns-server", "--dns-srv",
                 "--dns-interval-ms"}


def help_flags(binary):
    """{flag: takes a value} from `binary --help`."""
    out = subprocess.run([bin_path(binary), "--help"], capture_output=True, text=True,
                         timeout=30)
    text = out.stdout + out.stderr
    flags = {}
    # each option's own line: "  --name METAVAR  text" (takes a value) or "  --name  text"
    for m in re.finditer(r"^\s+(--[a-z][a-z0-9-]*)(\[?=\S*|[ \t][A-Z]\S*)?", text, flags=re.M):
        flags.setdefault(m.group(1), bool(m.group(2)) and not m.group(2).startswith(("[", "=")))
    assert "--help" in flags, text
    return flags


def parse_args(args, flags):
    """[(flag, value or None)]; fails on a flag the binary does not have."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        assert a.startswith("--"), "stray argument %r in %r" % (a, args)
        name, eq, value = a.partition("=")
        assert name in flags, "%s is not a flag of the binary" % name
        if not eq and flags[name]:
            assert i + 1 < len(args), "%s needs a value" % name
            value = args[i + 1]
            i += 1
        out.append((name, value if (eq or flags[name]) else None))
        i += 1
    return out


def flag(pairs, name):
    vals = [v for k, v in pairs if k == name]
    assert len(vals) == 1, "%s given %d times" % (name, len(vals))
    return vals[0]


def without_harness(pairs):
    out = []
    for k, v in pairs:
        if k not in HARNESS_FLAGS:
            out += [k] if v is None else [k, v]
    return out


def load_all():
    objs = {}
    for name in sorted(os.listdir(KUBE)):
        if name.endswith(".yaml") and name != "kustomization.yaml":
            with open(os.path.join(KUBE, name)) as f:
                for doc in yaml.safe_load_all(f):
                    assert doc, "empty document in %s" % name
                    for key in ("apiVersion", "kind", "metadata"):
                        assert key in doc, "%s: object without %s" % (name, key)
                    objs[(doc["kind"], doc["metadata"]["name"])] = doc
    return objs


@pytest.fixture(scope="module")
def objs():
    return load_all()


def container(deployment):
    cs = deployment["spec"]["template"]["spec"]["containers"]
    assert len(cs) == 1
    return cs[0]


def port_named(c, name):
    for p in c.get("ports", []):
        if p.get("name") == name:
            return p["containerPort"]
    raise AssertionError("no container port named %s" % name)


def probe_port(c, probe):
    port = c[probe]["httpGet"]["port"]
    return port_named(c, port) if isinstance(port, str) else port


def check_probes(c, http_port):
    assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert probe_port(c, "readinessProbe") == http_port
    assert probe_port(c, "livenessProbe") == http_port


def check_selects(selector, template_labels):
    for k, v in selector.items():
        assert template_labels.get(k) == v, "selector %s=%s selects no pod" % (k, v)


def prestop_seconds(c):
    cmd = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return int(cmd[1]) if len(cmd) == 2 and cmd[0].endswith("sleep") else 0


def test_yamllint():
    out = subprocess.run(["yamllint", "-s", "-c", os.path.join(KUBE, ".yamllint"), KUBE],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_objects_and_kustomization(objs):
    kinds = sorted(k for k, _ in objs)
    assert kinds == ["ConfigMap", "Deployment", "Deployment", "Service", "Service",
                     "ServingRuntime"], kinds
    with open(os.path.join(KUBE, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    files = sorted(n for n in os.listdir(KUBE)
                   if n.endswith(".yaml") and n != "kustomization.yaml")
    assert sorted(kust["resources"]) == files


def node_drain_s(pairs):
    """Seconds from a node's SIGTERM to the end of its drain: the not-ready delay (default
    2 s) and the drain timeout."""
    delay = [v for k, v in pairs if k == "--drain-delay-ms"]
    return (int(delay[0]) if delay else 2000) / 1000 + int(flag(pairs, "--drain-timeout-ms")) / 1000


def check_deployment(objs, name, binary):
    """What every Deployment must get right: the binary and its flags, the http port its
    probes and ports agree on, a selector that selects its pods. (dep, container, flag
    pairs, http port, pod labels)."""
    dep = objs[("Deployment", name)]
    c = container(dep)
    assert c["command"] == ["/usr/local/bin/" + binary]
    pairs = parse_args(c["args"], help_flags(binary))
    http = int(flag(pairs, "--http-port"))
    assert port_named(c, "http") == http
    check_probes(c, http)
    labels = dep["spec"]["template"]["metadata"]["labels"]
    check_selects(dep["spec"]["selector"]["matchLabels"], labels)
    return dep, c, pairs, http, labels


def test_node_deployment_and_headless_service(objs):
    dep, c, pairs, http, labels = check_deployment(objs, "inferd-node", "inferd")
    assert port_named(c, "grpc") == int(flag(pairs, "--grpc-port"))
    spec = dep["spec"]["template"]["spec"]
    # the kubelet's SIGKILL must come after preStop + drain + the node's shutdown steps
    # (connections 5 s, gRPC 5 s: src/node/main.c)
    assert spec["terminationGracePeriodSeconds"] > prestop_seconds(c) + node_drain_s(pairs) + 10
    # not ready long enough for the gateway's checks (default every 1 s, 2 failures) to see it
    assert int(flag(pairs, "--drain-delay-ms")) >= 2000
    # a rolling update never takes a ready node away before its replacement is ready
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["models"] == flag(pairs, "--model-repository")

    svc = objs[("Service", "inferd-nodes")]
    assert svc["spec"]["clusterIP"] == "None"  # headless: DNS lists the pods
    assert svc["spec"].get("publishNotReadyAddresses", False) is False
    check_selects(svc["spec"]["selector"], labels)
    for p in svc["spec"]["ports"]:
        assert port_named(c, p["targetPort"]) == p["port"]


def test_gateway_deployment_and_service(objs):
    dep, c, pairs, http, labels = check_deployment(objs, "inferd-gateway", "inferd-gateway")
    # discovery through the nodes' headless Service, on its http port
    name, _, port = flag(pairs, "--node-dns").rpartition(":")
    nodes = objs[("Service", name)]
    assert nodes["spec"]["clusterIP"] == "None"
    assert int(port) == [p["port"] for p in nodes["spec"]["ports"] if p["name"] == "http"][0]
    spec = dep["spec"]["template"]["spec"]
    drain_s = int(flag(pairs, "--drain-timeout-ms")) / 1000
    assert spec["terminationGracePeriodSeconds"] > prestop_seconds(c) + drain_s
    svc = objs[("Service", "inferd-gateway")]
    check_selects(svc["spec"]["selector"], labels)
    # gRPC: its own port, named grpc, in the Service too; the nodes' gRPC port is the one the
    # node container and the headless Service give as grpc
    grpc_port = int(flag(pairs, "--grpc-port"))
    assert port_named(c, "grpc") == grpc_port
    assert {p["name"]: port_named(c, p["targetPort"]) for p in svc["spec"]["ports"]} == \
        {"http": http, "grpc": grpc_port}
    node_c = container(objs[("Deployment", "inferd-node")])
    node_grpc = int(flag(pairs, "--node-grpc-port"))
    assert port_named(node_c, "grpc") == node_grpc
    assert [p["port"] for p in nodes["spec"]["ports"] if p["name"] == "grpc"] == [node_grpc]


def test_servingruntime(objs):
    rt = objs[("ServingRuntime", "inferd")]
    assert rt["apiVersion"] == "serving.kserve.io/v1alpha1"
    formats = {f["name"]: f for f in rt["spec"]["supportedModelFormats"]}
    assert formats["onnx"]["autoSelect"] is True
    assert "v2" in rt["spec"]["protocolVersions"]
    (c,) = rt["spec"]["containers"]
    assert c["name"] == "kserve-container"  # the name KServe merges the predictor into
    pairs = parse_args(c["args"], help_flags("inferd"))
    assert flag(pairs, "--model-repository") == "/mnt/models"  # the storage initializer's
    assert int(flag(pairs, "--http-port")) == 8080  # KServe's default
    check_probes(c, 8080)


def configmap_files(objs, dep):
    """{path: bytes} as node.yaml's volume items mount the ConfigMap."""
    vol = [v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "models"][0]
    cm = objs[("ConfigMap", vol["configMap"]["name"])]
    data = {k: v.encode() for k, v in cm.get("data", {}).items()}
    data.update({k: base64.b64decode(v) for k, v in cm.get("binaryData", {}).items()})
    items = vol["configMap"]["items"]
    assert sorted(i["key"] for i in items) == sorted(data), "every key mounted, once"
    return {i["path"]: data[i["key"]] for i in items}


def test_configmap_is_the_bundled_repository(objs):
    gen = subprocess.run([sys.executable, os.path.join(KUBE, "gen-models-configmap")],
                         capture_output=True, text=True, timeout=60)
    assert gen.returncode == 0, gen.stderr
    with open(os.path.join(KUBE, "models-configmap.yaml")) as f:
        assert f.read() == gen.stdout, "models/ changed: rerun deploy/kubernetes/gen-models-configmap"
    files = configmap_files(objs, objs[("Deployment", "inferd-node")])
    for path, data in files.items():
        with open(os.path.join(SOURCE_DIR, "models", path), "rb") as f:
            assert f.read() == data, path


def materialize(files, root):
    for path, data in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    return str(root)


def test_node_and_gateway_run_as_deployed(objs, node, tmp_path):
    """The Deployments' command lines on the real binaries, the repository mounted from the
    ConfigMap: every model loads, the probes answer 200 on node and gateway, and a request
    goes through."""
    dep = objs[("Deployment", "inferd-node")]
    repo = materialize(configmap_files(objs, dep), tmp_path / "models")
    c = container(dep)
    n_grpc = free_port()
    n = node(repo=repo, args=without_harness(parse_args(c["args"], help_flags("inferd"))) +
             ["--grpc-port", str(n_grpc)])
    for probe in ("readinessProbe", "livenessProbe"):
        assert n.request("GET", c[probe]["httpGet"]["path"])[0] == 200
    status, _, body = n.request("POST", "/v2/repository/index", body=b"{}")
    assert status == 200
    listed = {m["name"] for m in json.loads(body)}
    assert listed == {p.split("/")[0] for p in configmap_files(objs, dep)}

    g = container(objs[("Deployment", "inferd-gateway")])
    gw_args = without_harness(parse_args(g["args"], help_flags("inferd-gateway")))
    gw_args += ["--grpc-port", "0", "--node-grpc-port", str(n_grpc)]
    gw = Gateway(["127.0.0.1:%d" % n.port], str(tmp_path / "gateway.log"), args=gw_args)
    try:
        gw.start()
        for probe in ("readinessProbe", "livenessProbe"):
            assert gw.request("GET", g[probe]["httpGet"]["path"])[0] == 200
        status, _, body = gw.request("POST", "/process", body=b'{"message": "deployed"}')
        assert status == 200, body
        # and a gRPC call through the gateway's gRPC port to the node's
        m = re.search(r"listening on grpc port (\d+)", gw.log_text())
        assert m, gw.log_text()[-2000:]
        pb, rpc = grpcstubs.load()
        with grpc.insecure_channel("127.0.0.1:%s" % m.group(1)) as ch:
            stub = rpc.GRPCInferenceServiceStub(ch)
            assert stub.ModelReady(pb.ModelReadyRequest(name="digits"), timeout=10).ready
    finally:
        gw.stop()


def test_servingruntime_runs(objs, node, tmp_path):
    (c,) = objs[("ServingRuntime", "inferd")]["spec"]["containers"]
    repo = materialize(configmap_files(objs, objs[("Deployment", "inferd-node")]),
                       tmp_path / "mnt-models")
    n = node(repo=repo, args=without_harness(parse_args(c["args"], help_flags("inferd"))))
    assert n.request("GET", "/v2/models/digits/ready")[0] == 200


def unit(name):
    p = configparser.ConfigParser(strict=False, interpolation=None)
    p.optionxform = str
    with open(os.path.join(DEPLOY, "systemd", name)) as f:
        p.read_file(f)
    return p


@pytest.mark.parametrize("name,binary", [("inferd.service", "inferd"),
                                         ("inferd-gateway.service", "inferd-gateway")])
def test_systemd_units(name, binary, node, tmp_path):
    u = unit(name)
    svc = u["Service"]
    assert svc["Restart"] == "on-failure"
    assert svc["KillSignal"] == "SIGTERM"  # the drain
    assert svc["KillMode"] == "mixed"  # SIGTERM to the main process; SIGKILL to all at the end
    argv = shlex.split(svc["ExecStart"])
    assert argv[0] == "/usr/local/bin/" + binary
    pairs = parse_args(argv[1:], help_flags(binary))
    if binary == "inferd":
        assert int(svc["TimeoutStopSec"]) > node_drain_s(pairs) + 10
    else:
        assert int(svc["TimeoutStopSec"]) > int(flag(pairs, "--drain-timeout-ms")) / 1000 + 5
    assert u["Install"]["WantedBy"] == "multi-user.target"
    # the command line runs
    if binary == "inferd":
        assert flag(pairs, "--model-repository") in svc["ReadOnlyPaths"].split()
        n = node(args=without_harness(pairs))
        assert n.request("GET", "/v2/health/ready")[0] == 200
    else:
        # the gateway's gRPC side talks to the nodes' gRPC port of inferd.service
        node_argv = shlex.split(unit("inferd.service")["Service"]["ExecStart"])
        node_pairs = parse_args(node_argv[1:], help_flags("inferd"))
        assert flag(pairs, "--node-grpc-port") == flag(node_pairs, "--grpc-port")
        assert flag(pairs, "--grpc-port") != flag(pairs, "--http-port")
        n = node()
        gw = Gateway(["127.0.0.1:%d" % n.port], str(tmp_path / "gateway.log"),
                     args=without_harness(pairs))
        try:
            gw.start()
        finally:
            gw.stop()


def owners(paths):
    """{path: Debian package} in one dpkg call (it reads every file list: slow per call)."""
    q = subprocess.run(["dpkg", "-S"] + sorted(paths), capture_output=True, text=True,
                       timeout=120)
    out = {}
    for line in q.stdout.splitlines():
        pkg, _, path = line.partition(": ")
        out[path.strip()] = pkg.split(":")[0]
    return out


def ldd_packages(binaries):
    """{binary: set of the packages of the libraries it links}."""
    libs = {}
    for b in binaries:
        out = subprocess.run(["ldd", bin_path(b)], capture_output=True, text=True,
                             timeout=30).stdout
        libs[b] = [(lib, os.path.realpath(lib)) for lib in re.findall(r"=>\s*(/\S+)", out)]
    own = owners({p for pairs in libs.values() for pair in pairs for p in pair})
    pkgs = {}
    for b, pairs in libs.items():
        pkgs[b] = set()
        for lib, real in pairs:
            pkg = own.get(real) or own.get(lib)
            assert pkg, "no Debian package owns %s (linked by %s)" % (lib, b)
            pkgs[b].add(pkg)
    return pkgs


def depends_of(pkg):
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Depends}", pkg], capture_output=True,
                         text=True, timeout=30).stdout
    return {re.split(r"[\s:(]", d.strip())[0] for alt in out.split(",") for d in alt.split("|")
            if d.strip()}


def test_containerfile():
    with open(os.path.join(DEPLOY, "Containerfile")) as f:
        text = f.read()
    stages = re.split(r"^FROM\s+", text, flags=re.M)[1:]
    assert len(stages) == 2
    assert all(s.split()[0].startswith("docker.io/library/debian:12") for s in stages)
    runtime = stages[1]
    install = re.search(r"apt-get install[^\n]*\\\n((?:.*\\\n)*)", runtime)
    listed = set(re.findall(r"\b[a-z0-9][a-z0-9.+-]+[0-9a-z]\b",
                            install.group(1).split("&&")[0]))
    copied = re.search(r"COPY --from=build ([^\n]*\\\n[^\n]*)", runtime).group(1)
    binaries = re.findall(r"/build/bin/(\S+)", copied)
    assert sorted(binaries) == ["inferd", "inferd-gateway", "inferd-worker"]
    # what the listed packages pull in (apt installs their dependencies, recursively), and
    # libc6/libgcc-s1, in every Debian base image
    allowed, todo = {"libc6", "libgcc-s1"}, list(listed)
    while todo:
        pkg = todo.pop()
        if pkg not in allowed:
            allowed.add(pkg)
            todo += sorted(depends_of(pkg) - allowed)
    for b, pkgs in ldd_packages(binaries).items():
        # a sanitizer build (build-asan, build-tsan) links the sanitizer runtimes and what they
        # need; the image is a release build
        sanitizers = {p for p in pkgs if re.match(r"lib(asan|ubsan|tsan|lsan)\d+$", p)}
        for p in sorted(sanitizers):
            sanitizers |= depends_of(p)
        missing = pkgs - allowed - sanitizers
        assert not missing, "%s links libraries of %s, not installed" % (b, sorted(missing))
    # the default command serves the bundled models where they are copied to
    entry = json.loads(re.search(r"^ENTRYPOINT (.*)$", runtime, flags=re.M).group(1))
    cmd = json.loads(re.search(r"^CMD (.*)$", runtime, flags=re.M).group(1))
    assert entry == ["/usr/local/bin/inferd"]
    pairs = parse_args(cmd, help_flags("inferd"))
    assert re.search(r"^COPY models %s$" % re.escape(flag(pairs, "--model-repository")),
                     runtime, flags=re.M)
