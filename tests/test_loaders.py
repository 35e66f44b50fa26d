"""The DataLoader machinery: batching, per-key errors, chaining, per-request lifetime."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from loaders.base import DataLoader, LoaderRegistry, then


class RecordingLoader(DataLoader):
    """Doubles each key; fails for negative keys; records every batch."""

    def batch_load(self, keys):
        self.context.batches.append(list(keys))
        return [ValueError(f"bad key {key}") if key < 0 else key * 2 for key in keys]


class BrokenLoader(DataLoader):
    def batch_load(self, keys):
        raise RuntimeError("database down")


def make_context():
    context = SimpleNamespace(batches=[], viewer=None)
    context.loaders = LoaderRegistry(context)
    return context


def test_loads_of_one_level_are_one_batch():
    context = make_context()
    futures = [RecordingLoader(context).load(key) for key in (1, 2, 3, 2)]
    assert not any(future.done() for future in futures)

    context.loaders.dispatch_all()

    assert context.batches == [[1, 2, 3]]  # deduplicated, in order of first request
    assert [future.result() for future in futures] == [2, 4, 6, 4]


def test_the_same_loader_instance_serves_a_request():
    context = make_context()
    assert RecordingLoader(context) is RecordingLoader(context)
    assert RecordingLoader(make_context()) is not RecordingLoader(context)


def test_cached_keys_are_not_loaded_again():
    context = make_context()
    RecordingLoader(context).load(1)
    context.loaders.dispatch_all()
    again = RecordingLoader(context).load(1)
    assert again.done() and again.result() == 2
    assert not context.loaders.has_pending()
    assert context.batches == [[1]]


def test_an_exception_value_fails_only_its_key():
    context = make_context()
    good, bad = RecordingLoader(context).load(5), RecordingLoader(context).load(-1)
    context.loaders.dispatch_all()
    assert good.result() == 10
    with pytest.raises(ValueError, match="bad key -1"):
        bad.result()


def test_a_failing_batch_fails_every_key_and_keeps_the_failure():
    context = make_context()
    futures = [BrokenLoader(context).load(key) for key in (1, 2)]
    context.loaders.dispatch_all()
    for future in futures:
        with pytest.raises(RuntimeError, match="database down"):
            future.result()
    # Asked again in the same request, the key fails at once: a pending load made while
    # the executor reports the failure would never be dispatched.
    again = BrokenLoader(context).load(1)
    assert again.done()
    with pytest.raises(RuntimeError, match="database down"):
        again.result()


def test_primed_values_need_no_batch():
    context = make_context()
    RecordingLoader(context).prime(7, "primed")
    assert RecordingLoader(context).load(7).result() == "primed"
    assert not context.loaders.has_pending()


def test_then_chains_a_second_loader_into_the_next_batch():
    context = make_context()
    chained = [
        then(RecordingLoader(context).load(key), lambda value: RecordingLoader(context).load(value)) for key in (1, 3)
    ]

    context.loaders.dispatch_all()

    assert [future.result() for future in chained] == [4, 12]
    assert context.batches == [[1, 3], [2, 6]]  # two levels, one batch each


def test_then_on_plain_values_and_errors():
    assert then(3, lambda value: value + 1) == 4
    context = make_context()
    failed = then(RecordingLoader(context).load(-2), lambda value: value)
    context.loaders.dispatch_all()
    with pytest.raises(ValueError):
        failed.result()


def test_clear_forgets_cached_values_after_a_write():
    context = make_context()
    RecordingLoader(context).load(1)
    context.loaders.clear()
    assert not RecordingLoader(context).load(1).done()
