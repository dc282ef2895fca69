#!/usr/bin/python3
"""Tests scripts/check-test-deps on fake test files: it must fail, naming the module or program,
its file, its package and the fix, when a test uses something install-deps --list lacks.
Usage: test_check_test_deps.py REPO_ROOT"""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = sys.argv[1] if len(sys.argv) > 1 else \
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CHECK = os.path.join(ROOT, "scripts", "check-test-deps")


def check(source, name="test_fake.py"):
    """Runs the check on one fake test file; returns (exit code, stderr + stdout)."""
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "helper_mod.py"), "w") as f:
            f.write("X = 1\n")
        with open(os.path.join(d, name), "w") as f:
            f.write(source)
        r = subprocess.run([CHECK, d], capture_output=True, text=True, timeout=120)
        return r.returncode, r.stderr + r.stdout


def test_bench_only_module_fails():
    rc, out = check("import numpy\nimport sklearn.linear_model\n")
    assert rc == 1, out
    assert "test_fake.py imports module 'sklearn'" in out, out
    assert "fix: add" in out, out
    if importlib.util.find_spec("sklearn"):  # installed here by install-deps --bench
        assert "/usr/lib/python3/dist-packages/sklearn/__init__.py" in out, out
        assert "from Debian package python3-sklearn" in out, out
        assert "add python3-sklearn to test_pkgs in scripts/install-deps" in out, out
    else:
        assert "not installed on this machine" in out, out
    assert "'numpy'" not in out, out  # numpy is on the list


def test_dependency_of_listed_package_is_not_enough():
    # pluggy is installed because python3-pytest depends on it, but is not itself listed.
    rc, out = check("from pluggy import HookimplMarker\n")
    assert rc == 1, out
    assert "module 'pluggy'" in out and "python3-pluggy" in out, out


def test_unlisted_program_fails():
    # make comes with build-essential, but a test running it must list it.
    rc, out = check("import subprocess\nsubprocess.run(['make'] + ['-v'], check=True)\n")
    assert rc == 1, out
    assert "runs program 'make'" in out and "from Debian package make" in out, out
    assert "add make to test_pkgs" in out, out


def test_missing_program_fails():
    rc, out = check("import shutil\nshutil.which('inferd-no-such-tool')\n")
    assert rc == 1, out
    assert "runs program 'inferd-no-such-tool'" in out and "not installed" in out, out


def test_listed_and_local_pass():
    src = ("import json, os\nimport numpy as np\nfrom onnx import helper\nimport helper_mod\n"
           "import subprocess\nsubprocess.run(['curl', '-V'])\nsubprocess.run('sh -c true', "
           "shell=True)\n")
    rc, out = check(src)
    assert rc == 0, out
    assert "5 modules and 2 programs" in out, out


def test_cmake_runs_script_outside_scanned_folder():
    with tempfile.TemporaryDirectory() as d:
        tests, other = os.path.join(d, "tests"), os.path.join(d, "tools")
        os.makedirs(tests)
        os.makedirs(other)
        with open(os.path.join(other, "gen_data.py"), "w") as f:
            f.write("import pluggy\n")
        with open(os.path.join(tests, "CMakeLists.txt"), "w") as f:
            f.write("add_test(NAME gen COMMAND ${PYTHON3_DEBIAN} "
                    "${CMAKE_CURRENT_SOURCE_DIR}/../tools/gen_data.py)\n")
        r = subprocess.run([CHECK, tests], capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "gen_data.py imports module 'pluggy'" in r.stderr, r.stderr


def test_this_tree_passes():
    r = subprocess.run([CHECK], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "torchvision" not in r.stderr


def main():
    assert shutil.which("dpkg-query"), "needs dpkg-query (Debian)"
    tests = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
    for t in tests:
        t()
        print("ok", t.__name__)
    print("%d passed, 0 failed" % len(tests))


if __name__ == "__main__":
    main()
