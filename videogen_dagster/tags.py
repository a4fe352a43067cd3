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

# What a plan run will do, shown on the run in the Dagster UI (the request itself lives in the
# metadata store; these are for people reading the runs list).
PROMPT_TAG = "videogen/prompt"
SCENE_COUNT_TAG = "videogen/scene_count"
QUALITY_TAG = "videogen/quality"
PROMPT_TAG_CHARS = 120
SCENE_TITLE_TAG = "videogen/scene_title"
PARTITION_TAG = "dagster/partition"
# A scene run the plan run submitted itself (videogen_dagster/plan_submit.py): that plan run's id.
PLAN_RUN_TAG = "videogen/plan_run"
# Cluster mode: the Celery worker that took the run (set by the worker before the run starts).
WORKER_TAG = "videogen/worker"


def plan_run_tags(
    video_key: str, task_id: str, request=None, batch_id: str | None = None, partition: bool = True
) -> dict[str, str]:
    """Tags of a plan run: its partition (unless the caller sets it another way: `partition`
    False), task, kind, and what it was asked (prompt, scenes, quality), and for a batch its id
    and low priority."""
    tags = {TASK_TAG: task_id, KIND_TAG: "plan"}
    if partition:
        tags["dagster/partition"] = video_key
    if request is not None:
        prompt = " ".join(str(request.content_prompt).split())
        if len(prompt) > PROMPT_TAG_CHARS:
            prompt = prompt[: PROMPT_TAG_CHARS - 1] + "…"
        tags.update({PROMPT_TAG: prompt, SCENE_COUNT_TAG: str(request.scene_count),
                     QUALITY_TAG: str(request.render_config.quality)})
    if batch_id:
        tags.update({BATCH_TAG: batch_id, PRIORITY_TAG: BATCH_PRIORITY})
    return tags


def scene_title_tag(title: str | None) -> dict[str, str]:
    """The scene's title on its run, where the runs list shows it."""
    if not title:
        return {}
    title = " ".join(title.split())
    return {SCENE_TITLE_TAG: title if len(title) <= PROMPT_TAG_CHARS else title[: PROMPT_TAG_CHARS - 1] + "…"}


def scene_run_tags(
    video_key: str, scene_number: int, task_id: str, title: str | None = None
) -> dict[str, str]:
    """A scene run's partition ("<video>/NN", see partitions.py), task, kind and title."""
    return {
        PARTITION_TAG: f"{video_key}/{scene_number:02d}", TASK_TAG: task_id, KIND_TAG: "scene",
        **scene_title_tag(title),
    }


def combine_run_tags(video_key: str, task_id: str) -> dict[str, str]:
    return {PARTITION_TAG: video_key, TASK_TAG: task_id, KIND_TAG: "combine"}
