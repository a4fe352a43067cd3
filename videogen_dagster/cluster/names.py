"""Names shared by cluster mode's parts (no Celery import: the CLI and the bridge read them)."""

from videogen_dagster.tags import WORKER_TAG

__all__ = ["LIGHT_QUEUE", "QUEUES", "RENDER_QUEUE", "VISIBILITY_TIMEOUT", "WORKER_TAG"]

RENDER_QUEUE = "render"  # scene runs and posted-code renders (CPU-heavy, minutes)
LIGHT_QUEUE = "light"  # plans, joins, removals, batches (seconds)
QUEUES = (RENDER_QUEUE, LIGHT_QUEUE)
# Longer than the longest run (scene runs: dagster/max_runtime 1800 s), so a slow render is never
# handed to a second worker while the first still works on it.
VISIBILITY_TIMEOUT = 7200
