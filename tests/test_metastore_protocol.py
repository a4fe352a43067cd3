"""The store interface: SQLite (and PostgreSQL) implements every method of the MetadataStore
protocol with its exact signature, and the Convex mirror cannot be built with a writer it does
not account for."""

import inspect

import pytest

from videogen_dagster.stores.convex import LOCAL_ONLY, MIRRORS, MirroredMetadataStore
from videogen_dagster.stores.convex.mirror import delegate_and_mirror
from videogen_dagster.stores.metastore import (
    READERS,
    WRITERS,
    MetadataReader,
    MetadataStore,
    MetadataWriter,
    PostgresMetadataStore,
    SqliteMetadataStore,
)

from .pg_server import BACKENDS, make_store


def _public_methods(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_") and inspect.isfunction(getattr(cls, n))}


def test_the_protocol_is_its_reads_and_its_writes():
    assert set(READERS).isdisjoint(WRITERS)
    assert _public_methods(MetadataStore) == set(READERS) | set(WRITERS)
    assert _public_methods(MetadataReader) == set(READERS) and _public_methods(MetadataWriter) == set(WRITERS)


@pytest.mark.parametrize("cls", [SqliteMetadataStore, PostgresMetadataStore, MirroredMetadataStore])
def test_each_store_implements_every_method_with_the_protocols_signature(cls):
    for name in READERS + WRITERS:
        ours, declared = getattr(cls, name), getattr(MetadataStore, name)
        assert ours is not declared, f"{cls.__name__}.{name} is the protocol's stub"
        assert inspect.signature(ours) == inspect.signature(declared), name


@pytest.mark.parametrize("kind", BACKENDS)
def test_the_sqlite_store_has_no_public_method_outside_the_protocol(kind, request, tmp_path):
    store = make_store(kind, request, tmp_path / "m.sqlite")
    assert _public_methods(type(store)) == set(READERS) | set(WRITERS)
    assert isinstance(store, MetadataStore)


def test_a_writer_without_a_mirror_or_a_reason_fails_the_class():
    class Store:
        pass

    without = {k: v for k, v in MIRRORS.items() if k != "record_edit"}
    with pytest.raises(TypeError, match=r"missing: \['record_edit'\]"):
        delegate_and_mirror(Store, without, LOCAL_ONLY)
    with pytest.raises(TypeError, match=r"in both: \['claim_join'\]"):
        delegate_and_mirror(Store, {**MIRRORS, "claim_join": MIRRORS["save_plan"]}, LOCAL_ONLY)
    with pytest.raises(TypeError, match=r"not writers: \['get_task'\]"):
        delegate_and_mirror(Store, {**MIRRORS, "get_task": MIRRORS["save_plan"]}, LOCAL_ONLY)

    class Bypass:
        def update_task(self, task_id, **fields):  # would write without mirroring
            pass

    with pytest.raises(TypeError, match=r"defined as methods instead: \['update_task'\]"):
        delegate_and_mirror(Bypass, MIRRORS, LOCAL_ONLY)


def test_every_local_only_writer_says_why():
    for name, reason in LOCAL_ONLY.items():
        assert len(reason.split()) >= 8, name
