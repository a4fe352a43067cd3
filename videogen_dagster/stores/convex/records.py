"""The Convex mutations' arguments, made from the store's typed records (snake_case attributes to
the camelCase fields of convex/schema.ts; enums as their plain string values). Each carries a
record's full state, so a replay is harmless. The nested JSON (a video's request, plan and
combined record, a scene's assets) is free-form data of other modules and is read as such."""

from __future__ import annotations

from typing import Any

from videogen_dagster.stores.metastore.records import Scene, SceneEdit, SceneVersion, Task, Video

Args = dict[str, Any]


def clean(d: Args) -> Args:
    """Convex's v.optional fields take a missing key, not null."""
    return {k: v for k, v in d.items() if v is not None}


def asset_refs(assets: dict) -> list[Args]:
    """Where each object is (bucket, key, version id) and what it is; never a presigned URL."""
    return [
        clean({
            "kind": kind, "bucket": a.get("bucket"), "key": a["key"], "versionId": a.get("version_id"),
            "sha256": a["sha256"], "bytes": a["bytes"], "contentType": a["content_type"],
        })
        for kind, a in sorted(assets.items())
        if isinstance(a, dict) and "key" in a
    ]


def task_args(t: Task) -> Args:
    return {
        "taskId": t.task_id, "kind": str(t.kind), "projectId": t.project_id,
        "sessionId": t.session_id, "sceneId": t.scene_id, "videoKey": t.video_key,
        "status": str(t.status), "progress": t.progress, "message": t.message,
        "currentStep": t.current_step, "totalSteps": t.total_steps, "error": t.error,
        "createdAt": t.created_at, "updatedAt": t.updated_at, "completedAt": t.completed_at,
    }


def llm_usage_args(usage: dict | None) -> Args | None:
    if not usage:
        return None
    return {
        "calls": usage.get("calls", 0), "promptTokens": usage.get("prompt_tokens", 0),
        "completionTokens": usage.get("completion_tokens", 0), "totalTokens": usage.get("total_tokens", 0),
        "costUsd": usage.get("cost_usd", 0.0),
    }


def video_args(v: Video) -> Args:
    request, plan, combined = v.request or {}, v.plan or {}, v.combined or {}
    refs = None
    if combined:
        refs = asset_refs({
            "combined": combined["video"], "subtitles": combined["subtitles_srt"],
            "subtitles_vtt": combined["subtitles_vtt"], "manifest": combined.get("manifest"),
        })
    return {
        "videoKey": v.video_key, "projectId": v.project_id, "sessionId": v.session_id,
        "prompt": request.get("content_prompt", ""),
        "sceneCount": plan.get("scene_count") or request.get("scene_count", 0),
        "status": str(v.status), "planVersion": v.plan_version, "combinedVersion": v.combined_version,
        "totalDuration": v.total_duration, "combined": refs,
        "llmUsage": llm_usage_args(v.llm_usage), "updatedAt": v.updated_at,
    }


def scene_status_args(s: Scene) -> Args:
    return {
        "videoKey": s.video_key, "sceneNumber": s.scene_number, "sceneId": s.scene_id,
        "title": s.title, "status": str(s.status), "error": s.error, "updatedAt": s.updated_at,
    }


def version_args(scene_id: str, title: str, row: SceneVersion) -> Args:
    """A new version (`row` from the scene's history) for scenes:recordVersion."""
    return {
        "videoKey": row.video_key, "sceneNumber": row.scene_number, "sceneId": scene_id,
        "title": title, "version": row.version,
        "editedBy": "edit" if row.edit_prompt else "pipeline", "editPrompt": row.edit_prompt,
        "taskId": row.task_id, "duration": row.duration, "assets": asset_refs(row.assets),
        "createdAt": row.created_at,
    }


def replaced_version_args(row: SceneVersion, replaced_at: str) -> Args:
    """A version whose assets an in-place edit replaced, for scenes:replaceVersion."""
    return {
        "videoKey": row.video_key, "sceneNumber": row.scene_number, "version": row.version,
        "duration": row.duration, "assets": asset_refs(row.assets), "replacedAt": replaced_at,
    }


def edit_args(e: SceneEdit) -> Args:
    return {
        "videoKey": e.video_key, "sceneNumber": e.scene_number, "fromVersion": e.from_version,
        "toVersion": e.to_version, "editPrompt": e.edit_prompt, "model": e.model,
        "applied": list(e.applied), "taskId": e.task_id, "createdAt": e.created_at,
    }
