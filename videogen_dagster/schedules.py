"""The nightly batch: a batch file of topics written on a cron, then run by the batch sensor."""

import dagster as dg

from videogen_dagster.jobs import batch_from_topics_job


def nightly_batch_schedule(
    topics_path: str, cron: str = "0 2 * * *", timezone: str = "UTC", size: int = 5,
    scene_count: int = 3, quality: str = "preview", unavailable: str = "",
) -> dg.ScheduleDefinition:
    """`cron` in `timezone` (default 02:00 UTC every day); running when a topic list is set.
    `unavailable` (the settings' error) keeps it stopped, each tick saying why."""

    @dg.schedule(
        name="nightly_batch_schedule",
        cron_schedule=cron,
        execution_timezone=timezone,
        job=batch_from_topics_job,
        default_status=(
            dg.DefaultScheduleStatus.RUNNING if topics_path and not unavailable
            else dg.DefaultScheduleStatus.STOPPED
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        if unavailable:
            return dg.SkipReason(f"invalid settings: {unavailable}")
        if not topics_path:
            return dg.SkipReason("no topic list: set VIDEOGEN_BATCH_TOPICS")
        day = context.scheduled_execution_time.date().isoformat()
        return dg.RunRequest(
            run_key=f"nightly:{day}",
            run_config={"ops": {"write_topics_batch": {"config": {
                "topics_path": topics_path, "date": day, "size": size, "scene_count": scene_count,
                "quality": quality,
            }}}},
        )

    return _schedule
