"""``lambda_entry``'s runtime: built once per container, then kept out of the cyclic GC's scans."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from topicdesk.adapters.powertools import PowertoolsMetrics, lambda_entry


class Runtime:
    """Stands in for a container's runtime: in a reference cycle, as real ones are."""

    def __init__(self) -> None:
        self.itself = self
        self.invocations = 0

    def invoke(self, event: Any, context: Any) -> dict[str, Any]:
        self.invocations += 1
        return {"statusCode": 200}


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


def entry() -> tuple[Any, list[Runtime]]:
    built: list[Runtime] = []

    def build(metrics: PowertoolsMetrics) -> Runtime:
        built.append(Runtime())
        return built[-1]

    runtime, _ = lambda_entry(build, Runtime.invoke, traced=False)
    return runtime, built


def test_the_runtime_is_built_once_and_frozen_out_of_the_collectors_generations() -> None:
    gc.unfreeze()
    runtime, built = entry()
    first = runtime()
    assert runtime() is first and len(built) == 1
    assert gc.get_freeze_count() > 0
    assert not any(obj is first for obj in gc.get_objects())  # not scanned by any collection
    frozen = weakref.ref(first)
    del first, built[:]
    runtime.cache_clear()
    gc.collect()
    assert frozen() is not None  # the frozen cycle outlives a full collection


def test_a_rebuild_thaws_the_last_build_so_its_garbage_is_collected() -> None:
    runtime, built = entry()
    old = weakref.ref(runtime())
    built.clear()
    runtime.cache_clear()
    new = runtime()  # rebuilt: thaws, builds, freezes again
    gc.collect()
    assert old() is None
    assert new is not None and built == [new]
