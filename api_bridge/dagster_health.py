"""Whether Dagster can run what the bridge launches: the webserver answers, and the daemon lives.

Dagster calls a daemon healthy until its heartbeat is 30 minutes old; the daemon writes one every
30 s. The chain sensor ticks every 5 s while the daemon lives, so a tick older than
SENSOR_TICK_STALE_SECONDS tells a dead daemon within about 25 s."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from api_bridge.dagster_errors import REPOSITORY, DagsterUnavailable

if TYPE_CHECKING:
    from api_bridge.dagster_client import DagsterClient

CHAIN_SENSOR = "video_chain_sensor"
HEARTBEAT_STALE_SECONDS = 90.0  # three of the daemon's 30 s heartbeat intervals
SENSOR_TICK_STALE_SECONDS = 20.0  # four of the sensor daemon's 5 s loops


def dagster_health(client: DagsterClient) -> dict[str, str | None]:
    """None per healthy part, else one sentence on what is wrong (see DagsterClient.health)."""
    try:
        data = client.query(
            """query($loc: String!, $repo: String!, $sensor: String!) {
                 instance { daemonHealth { allDaemonStatuses { daemonType healthy required lastHeartbeatTime } } }
                 sensorOrError(sensorSelector: {repositoryName: $repo, repositoryLocationName: $loc,
                                                sensorName: $sensor}) {
                   __typename ... on Sensor { sensorState { status ticks(limit: 1) { timestamp } } } } }""",
            {"loc": client.location, "repo": REPOSITORY, "sensor": CHAIN_SENSOR},
        )
    except DagsterUnavailable as exc:
        return {
            "dagster_webserver": str(exc),
            "dagster_daemon": "unknown while the webserver is unreachable",
        }
    now = time.time()
    problems = []
    for d in data["instance"]["daemonHealth"]["allDaemonStatuses"]:
        if not d["required"]:
            continue
        last = d.get("lastHeartbeatTime")
        if last is None or not d["healthy"]:
            problems.append(f"{d['daemonType']} has no recent heartbeat")
        elif now - last > HEARTBEAT_STALE_SECONDS:
            problems.append(f"{d['daemonType']} last beat {now - last:.0f} s ago")
    sensor = data.get("sensorOrError") or {}
    state = sensor.get("sensorState") or {}
    ticks = state.get("ticks") or []
    if (
        state.get("status") == "RUNNING"
        and ticks
        and now - ticks[0]["timestamp"] > SENSOR_TICK_STALE_SECONDS
    ):
        problems.insert(0, f"the chain sensor last ticked {now - ticks[0]['timestamp']:.0f} s ago")
    daemon = None
    if problems:
        daemon = (
            "the Dagster daemon is not running ("
            + "; ".join(problems[:3])
            + "): queued runs will not start"
        )
    return {"dagster_webserver": None, "dagster_daemon": daemon}
