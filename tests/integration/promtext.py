# A strict reader of the Prometheus text format (0.0.4) for the metrics tests: it checks what
# promtool does not (each family one group with one HELP and one TYPE before its samples,
# every sample inside its declared family, histogram buckets cumulative and ending in +Inf
# equal to _count) and returns the samples for assertions; scrape and promtool_check for the
# node's and the gateway's tests.
import math
import re
import subprocess

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        assert m, "bad labels: %r" % text
        value = m.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        assert m.group(1) not in labels, "label twice: %r" % text
        labels[m.group(1)] = value
        pos = m.end()
    return labels


def family_of(name, families):
    if name in families:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and families.get(base, {}).get("type") == "histogram":
            return base
    return None


def parse(text):
    """Returns {family: {"type", "help", "samples": [(name, labels, value)]}}; asserts the
    format rules above."""
    families, order, current = {}, [], None
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name, _, arg = rest.partition(" ")
            if name != current:
                assert name not in families, "family %s in two groups" % name
                families[name] = {"samples": []}
                order.append(name)
                current = name
            f = families[name]
            key = "help" if kind == "HELP" else "type"
            assert key not in f, "two %s lines for %s" % (kind, name)
            assert not f["samples"], "%s line after the samples of %s" % (kind, name)
            f[key] = arg
            continue
        assert not line.startswith("#"), "unexpected comment %r" % line
        m = SAMPLE.match(line)
        assert m, "bad sample line %r" % line
        fam = family_of(m.group(1), families)
        assert fam == current, "sample %s outside its family group (in %s)" % (m.group(1), current)
        families[fam]["samples"].append((m.group(1), parse_labels(m.group(3) or ""),
                                         float(m.group(4))))
    for name, f in families.items():
        assert "help" in f and "type" in f, "%s lacks HELP or TYPE" % name
        if f["type"] == "counter":
            assert name.endswith("_total"), "counter %s without _total" % name
        if f["type"] == "histogram":
            check_histogram(name, f["samples"])
    return families


def check_histogram(name, samples):
    series = {}
    for sname, labels, value in samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            le = labels["le"]
            s["buckets"].append((math.inf if le == "+Inf" else float(le), value))
        elif sname == name + "_sum":
            s["sum"] = value
        else:
            s["count"] = value
    assert series, "histogram %s has no series" % name
    for key, s in series.items():
        b = s["buckets"]
        assert b and b[-1][0] == math.inf, "%s%s: no +Inf bucket" % (name, key)
        les = [le for le, _ in b]
        assert les == sorted(les) and len(set(les)) == len(les), "%s: le not increasing" % name
        counts = [c for _, c in b]
        assert counts == sorted(counts), "%s%s: buckets decrease: %s" % (name, key, counts)
        assert s["count"] == b[-1][1], "%s%s: +Inf %s != _count %s" % (name, key, b[-1][1],
                                                                         s["count"])
        assert s["sum"] is not None and s["sum"] >= 0


def value(families, name, **labels):
    """The value of the one sample called name whose labels include labels."""
    fam = family_of(name, families)
    assert fam, "no family for %s" % name
    got = [v for n, l, v in families[fam]["samples"]
           if n == name and all(l.get(k) == str(x) for k, x in labels.items())]
    assert len(got) == 1, "%s %s: %d samples" % (name, labels, len(got))
    return got[0]


def scrape(server):
    """GET /metrics from a node or gateway (anything with .request); the text."""
    status, headers, body = server.request("GET", "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    return body.decode()


def promtool_check(text):
    """`promtool check metrics` (Debian's prometheus package) accepts text."""
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
