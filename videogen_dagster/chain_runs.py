"""What the chain sensor and the plan run's own submission share (sensors.py, plan_submit.py):
the sensor's name, which the runs of either carry, and the lookup of a run by its run key."""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG

CHAIN_SENSOR = "video_chain_sensor"


def existing_run(instance: dg.DagsterInstance, run_key: str) -> dg.DagsterRun | None:
    """The run already made for this run key, by the plan run or the sensor."""
    runs = instance.get_runs(dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
    return runs[0] if runs else None
