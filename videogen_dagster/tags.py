"""Run tags and job names shared by the assets, the sensor, the CLI and the REST bridge."""

TASK_TAG = "videogen/task_id"
# Who advances the chain: "cli" runs are driven by `videogen generate` itself; anything else
# (UI, REST bridge, schedules) is advanced by the chain sensor.
DRIVER_TAG = "videogen/driver"
# The step kind: "plan", "scene" or "combine". dagster.yaml caps concurrent "scene" runs.
KIND_TAG = "videogen/kind"

PLAN_JOB = "plan_job"
SCENE_JOB = "scene_job"
COMBINE_JOB = "combine_job"
AGENT_RENDER_JOB = "agent_render_job"  # the REST bridge's agents/render endpoint
AGENT_RENDER_TAG = "videogen/agent_render"  # its request id

# Runs of a batch: capped separately in dagster.yaml, and queued behind single requests
# (Dagster's run queue takes higher `dagster/priority` first; batch runs get -1).
BATCH_TAG = "videogen/batch"
PRIORITY_TAG = "dagster/priority"
BATCH_PRIORITY = "-1"
BATCH_JOB = "batch_from_topics_job"
MAX_RUNTIME_TAG = "dagster/max_runtime"  # seconds; enforced by Dagster's run monitoring
