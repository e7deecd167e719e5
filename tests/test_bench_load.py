"""``bench.load``'s small run (CI): concurrent uploads against ``uploadwriter serve``, some failing.

A few seconds: 60 uploads at once over the three routes, of which 6 vanish
mid-way, 3 stall past the chunk timeout and 3 are too large. The run checks
what users rely on under load (see ``bench/load.py``): each completed upload
is answered with, and stored as, the sha256 of the bytes sent; each failed one
gets its code and leaves nothing behind; the listing shows exactly the
completed ones; the server's memory stays bounded; its log has no traceback.
"""

from __future__ import annotations

from bench.load import SMOKE, print_report, run

FAULTS = ("none", "disconnect", "slow", "too_large")


def test_a_small_load_keeps_every_completed_upload_whole_and_nothing_of_the_others() -> None:
    report = run(SMOKE)
    print_report(report)  # in the test's output, should it fail
    assert report.problems == []
    # Every kind of failure happened on every route, at once with the others.
    seen = {(o.plan.route, o.plan.fault) for o in report.outcomes}
    assert seen == {(route, fault) for route in SMOKE.routes for fault in FAULTS}
    failing = round(SMOKE.uploads * 0.10) + 2 * round(SMOKE.uploads * 0.05)
    assert len(report.completed) == SMOKE.uploads - failing
