"""`videogen delete <project>.<session> [--objects] [--yes]`: remove a video from the Dagster
instance (its `videos` and `scenes` partitions and their materialisations), from the metadata
store (the video, its scenes, versions, edits and tasks) and, with --objects, from the object
store (every object under the video's prefix).

It prints what will be removed and asks `Delete video ...? [y/N]` on a terminal; without one it
needs --yes. Exit codes: 0 deleted, 1 declined (or the object store failed), 2 unknown video or a
bad argument, 3 refused while the video is being generated or edited (nothing removed).
"""

from __future__ import annotations

import argparse
import sys

from videogen_dagster.models import split_video_key

DELETED, DECLINED, BAD_ARGUMENT, RUNNING = 0, 1, 2, 3


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser(
        "delete",
        help="remove a video: its Dagster partitions and materialisations, its records and, with "
        "--objects, its stored files",
    )
    d.add_argument("video", metavar="project.session", help="the video's key, e.g. demo.pythagorean-theorem-3f9a2b")
    d.add_argument("--objects", action="store_true",
                   help="also delete its stored objects (plan, scenes, joined video: every version)")
    d.add_argument("--yes", "-y", action="store_true",
                   help="do not ask for confirmation (required when stdin is not a terminal)")


def _say(msg: str) -> None:
    print(f"videogen: {msg}", file=sys.stderr)


def _confirmed(video_key: str, yes: bool) -> bool | None:
    """True to go on; False when declined; None when it cannot ask (no terminal) and no --yes."""
    if yes:
        return True
    if not sys.stdin.isatty():
        return None
    try:
        answer = input(f"Delete video {video_key}? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    from videogen_dagster.stores.objectstore import ObjectStoreError

    video_key = args.video
    try:
        split_video_key(video_key)
    except ValueError as exc:
        _say(str(exc))
        return BAD_ARGUMENT
    try:
        return _delete(video_key, args.objects, args.yes)
    except ObjectStoreError as exc:
        _say(f"object store: {exc}")
        return DECLINED


def _delete(video_key: str, delete_objects: bool, yes: bool) -> int:
    from videogen_dagster.dagster_removal import (
        VideoRunning,
        active_runs,
        remove_video_partitions,
        video_partitions,
    )
    from videogen_dagster.definitions import defs
    from videogen_dagster.instance import dagster_instance as _instance
    from videogen_dagster.removal import Removal, video_objects
    from videogen_dagster.stores.metastore import VideoBusy

    resources = dict(defs.resources or {})
    meta = resources["metadata"].get_store()
    video = meta.get_video(video_key)
    objects = video_objects(resources["storage"].store_config(), video_key, video)
    with _instance() as instance:
        found = Removal(video_key, meta.video_records(video_key), video_partitions(instance, video_key).as_dict(),
                        objects.count(), objects.where())
        if not found.known:
            _say(f"no video {video_key}: no records, Dagster partitions or objects")
            return BAD_ARGUMENT
        busy = meta.active_tasks(video_key)
        running = active_runs(instance, video_key)
        if busy or running:
            _say(f"{VideoBusy(video_key, busy[0]) if busy else VideoRunning(video_key, running)}; nothing deleted")
            return RUNNING
        title = f'"{video.request.get("content_prompt", "")}"' if video else "(no records left)"
        print(f"video {video_key} {title}:")
        print("\n".join(found.describe(delete_objects)), flush=True)
        confirmed = _confirmed(video_key, yes)
        if confirmed is None:
            _say("stdin is not a terminal to confirm on: run again with --yes to delete; nothing deleted")
            return BAD_ARGUMENT
        if not confirmed:
            _say("nothing deleted")
            return DECLINED
        try:
            records = meta.delete_video(video_key)
            partitions = remove_video_partitions(instance, defs.resolve_asset_graph(), video_key)
        except (VideoBusy, VideoRunning) as exc:  # it started meanwhile
            _say(f"{exc}; run `videogen delete {video_key}` again once it has ended")
            return RUNNING
    deleted = objects.delete() if delete_objects else None
    print(f"deleted video {video_key}: {len(partitions.keys)} partition(s) ({partitions.events_wiped} event(s) "
          f"wiped), {records.total} record(s)" + (f", {deleted} object(s)" if deleted is not None else
                                                   f"; {found.objects} object(s) kept"))
    return DELETED
