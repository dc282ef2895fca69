# Helpers for the inferctl tests: run the tool of this build, and read/write .npy files
# without numpy (float32 and int64 only, which is what the tests use).
import ast
import struct
import subprocess

from conftest import bin_path

NPY_FMT = {"<f4": "f", "<i8": "q"}


def inferctl(*args, timeout=120):
    """Runs build/bin/inferctl with args; returns (returncode, stdout, stderr)."""
    p = subprocess.run([bin_path("inferctl")] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def npy_write(path, descr, shape, values):
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join("%d," % d for d in shape))
    hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
        f.write(struct.pack("<%d%s" % (len(values), NPY_FMT[descr]), *values))


def npy_read(path):
    """Returns (descr, shape tuple, flat list of values)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY"
    hlen = struct.unpack("<H", data[8:10])[0]
    hdr = ast.literal_eval(data[10:10 + hlen].decode())
    assert hdr["fortran_order"] is False
    body = data[10 + hlen:]
    fmt = NPY_FMT[hdr["descr"]]
    n = len(body) // struct.calcsize(fmt)
    return hdr["descr"], tuple(hdr["shape"]), list(struct.unpack("<%d%s" % (n, fmt), body))
