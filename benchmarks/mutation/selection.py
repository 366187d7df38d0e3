"""pytest plugin: the tests of the mutation run (benchmarks/mutation.sh), those that need no trained model.

mutmut reruns a mutant's tests in a fresh pytest session, so a test that needs the session fixtures
`tiny_run` or `exported` (train and export a model, a minute or more) would retrain for every mutant.
Left out: every test that asks for either fixture (directly or through another fixture), and every test
marked `slow` (they train, or run scripts that do), except those in KEEP, marked only by their
module's `pytestmark` and as fast as the rest.
"""

from __future__ import annotations

import pytest

TRAINED = {"tiny_run", "exported"}
KEEP = {"tests/test_train.py::test_stratified_split_is_seeded_and_balanced"}


def _left_out(item: pytest.Item) -> bool:
    if TRAINED & set(getattr(item, "fixturenames", ())):
        return True
    return item.get_closest_marker("slow") is not None and item.nodeid not in KEEP


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    dropped = [item for item in items if _left_out(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not _left_out(item)]
