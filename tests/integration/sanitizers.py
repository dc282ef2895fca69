# What a sanitizer report looks like in a process's log, for every harness that starts our
# binaries (nodes in conftest.py, gateways in gwharness.py, the cluster bed): a report fails the
# test even when every request was answered (a worker ASan aborted is simply restarted).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "WARNING: ThreadSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_report(text, context=4000):
    """The first sanitizer report in text (with context after it), or None."""
    hits = [at for at in (text.find(m) for m in SANITIZER_MARKERS) if at >= 0]
    return text[min(hits):min(hits) + context] if hits else None
