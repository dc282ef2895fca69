# Fixtures of the cluster suite: a bed of N node namespaces (bed.py), torn down after each test.
# The suite needs root (namespaces, nft, NFQUEUE); without it every test is skipped.
import os

import pytest

import bed as bedlib


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the cluster bed needs root (network namespaces)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture
def cluster():
    """cluster(n=3, start_nodes=True) -> an up Bed; closed at the end of the test."""
    beds = []

    def make(n=3, start_nodes=True):
        b = bedlib.Bed(n)
        beds.append(b)
        return b.up(start_nodes=start_nodes)

    yield make
    for b in beds:
        b.close()
    for b in beds:
        if b.sanitizer_reports:
            pytest.fail("sanitizer report in the bed's logs: " + b.sanitizer_reports[0])
