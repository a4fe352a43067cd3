"""Launcher: the Dagster run launcher named in dagster.yaml (`WarmRunLauncher`, in
`run_launcher`), which forks run workers from a warm parent process (`warm_worker`, started as
`python -m videogen_dagster.launcher.warm_worker`) that has already imported Dagster and the code
location, so a run starts in ~0.1 s instead of ~1.4 s; and the run coordinator named there
(`WarmQueuedRunCoordinator`, in `coordinator`): Dagster's queued one, which also starts that warm
parent as soon as the daemon starts.
"""

from videogen_dagster.launcher.coordinator import WarmQueuedRunCoordinator
from videogen_dagster.launcher.run_launcher import WarmParent, WarmRunLauncher

__all__ = ["WarmParent", "WarmQueuedRunCoordinator", "WarmRunLauncher"]
