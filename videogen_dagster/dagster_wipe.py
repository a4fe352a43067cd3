"""Wiping the event history of some partitions of an asset, on any Dagster instance.

`DagsterInstance.wipe_asset_partitions` is Dagster's API for it, but open-source Dagster's SQL
event log storages (SQLite, Postgres, MySQL) do not implement it (1.13: "Partitioned asset wipe
is not supported yet for this event log storage"; the GraphQL `wipeAssets` with partition ranges
and `deleteDynamicPartitions(wipeMaterializations: true)` answer UnsupportedOperationError for
the same reason). Where it is missing, `wipe_partitions` does what it would do, on the storage's
cross-run index (the tables Dagster's asset queries read: for the default sharded SQLite storage
the index shard; a run's own event log keeps its history, as after Dagster's `wipe_asset`):

- the asset's events for those partitions (materialisations, observations, planned and failed
  materialisations, check evaluations) and their event tags, and the check executions made for
  those materialisations;
- the asset's cached partition status (recomputed from the events on the next read);
- its latest materialisation, when it was one of those partitions', becomes the latest left;
- an ASSET_WIPED event naming the partitions, as Dagster's own wipe reports.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from dagster._core.events import AssetWipedData, DagsterEvent, DagsterEventType
from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID
from dagster._core.storage.event_log.base import EventLogRecord
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetEventTagsTable,
    AssetKeyTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_select
from dagster._serdes import serialize_value


def wipe_partitions(instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_keys: Sequence[str]) -> int:
    """Remove the asset's event history for `partition_keys`; returns how many events of the
    cross-run index were removed (-1: Dagster's own wipe did it and does not say)."""
    keys = sorted(set(partition_keys))
    if not keys:
        return 0
    try:
        instance.wipe_asset_partitions(asset_key, keys)
        return -1
    except NotImplementedError:
        pass
    storage = instance.event_log_storage
    if not isinstance(storage, SqlEventLogStorage):
        raise NotImplementedError(
            f"the event log storage {type(storage).__name__} cannot wipe partitions of {asset_key.to_user_string()}"
        )
    removed = _delete_events(storage, asset_key, keys)
    if removed:
        _repair_latest(instance, storage, asset_key)
        instance.report_dagster_event(
            DagsterEvent(
                event_type_value=DagsterEventType.ASSET_WIPED.value,
                event_specific_data=AssetWipedData(asset_key=asset_key, partition_keys=keys),
                job_name=RUNLESS_JOB_NAME,
            ),
            run_id=RUNLESS_RUN_ID,
        )
    return removed


def _delete_events(storage: SqlEventLogStorage, asset_key: dg.AssetKey, keys: list[str]) -> int:
    """Delete the events (with their tags and check executions) in one index transaction."""
    events, checks = SqlEventLogStorageTable, AssetCheckExecutionsTable
    ak = asset_key.to_string()
    has_checks = storage.has_table(checks.name)  # asked first: the SQLite storage's lock is not reentrant
    with storage.index_transaction() as conn:
        ids = [row[0] for row in conn.execute(
            db_select([events.c.id]).where(events.c.asset_key == ak, events.c.partition.in_(keys))
        ).fetchall()]
        for start in range(0, len(ids), 500):  # within SQLite's limit on bound parameters
            chunk = ids[start:start + 500]
            conn.execute(AssetEventTagsTable.delete().where(AssetEventTagsTable.c.event_id.in_(chunk)))
            if has_checks:
                conn.execute(checks.delete().where(checks.c.materialization_event_storage_id.in_(chunk)))
            conn.execute(events.delete().where(events.c.id.in_(chunk)))
        if has_checks:
            conn.execute(checks.delete().where(checks.c.asset_key == ak, checks.c.partition.in_(keys)))
        if ids:  # the cached partition status is recomputed from the events on its next read
            conn.execute(AssetKeyTable.update().values(cached_status_data=None).where(AssetKeyTable.c.asset_key == ak))
    return len(ids)


def _repair_latest(instance: dg.DagsterInstance, storage: SqlEventLogStorage, asset_key: dg.AssetKey) -> None:
    """Point the asset's latest materialisation at the latest one left (none: cleared)."""
    left = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=asset_key), limit=1).records
    values: dict[str, str | None]
    if left:
        record = left[0]
        values = {"last_materialization": serialize_value(
            EventLogRecord(storage_id=record.storage_id, event_log_entry=record.event_log_entry)),
            "last_run_id": record.run_id}
    else:
        values = {"last_materialization": None, "last_run_id": None}
    with storage.index_connection() as conn:
        conn.execute(AssetKeyTable.update().values(**values).where(AssetKeyTable.c.asset_key == asset_key.to_string()))
