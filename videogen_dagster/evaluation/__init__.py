"""Scoring a finished video the way the field does, and measuring what needs no model.

- `collect`: the model-free part, always: per scene its duration against the limit, the
  render's layout findings by kind, readability (text size and contrast), subtitle coverage,
  speech coverage and onsets (silencedetect on the scene's audio), audio/video agreement; the
  video's totals and its layout score (`measures.layout_score`).
- `judge`: with a vision model configured, TheoremExplainAgent's five dimensions scored 1-5
  from frames of every scene and the narration (a model's opinion, labelled so).
- `text`: the report as the CLI prints it (`videogen evaluate`).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from videogen_dagster.authoring.llm_client import LLMClient, LLMError
from videogen_dagster.authoring.llm_routes import known_models, load_routes
from videogen_dagster.evaluation.collect import NotEvaluable, Target, evaluate_scene, locate, totals
from videogen_dagster.evaluation.judge import FRAMES_PER_SCENE, SceneMaterial, judge
from videogen_dagster.evaluation.records import Judgement, VideoEvaluation
from videogen_dagster.evaluation.text import format_report
from videogen_dagster.settings import Settings, get_settings
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.metastore.postgres import shared_postgres_store
from videogen_dagster.stores.objectstore import StoreConfig

__all__ = ["NotEvaluable", "VideoEvaluation", "evaluate", "format_report"]

NO_MODEL = (
    "no vision model is configured (set OPENAI_API_KEY, or VIDEOGEN_MODELS_FILE with an entry "
    "for {model!r}): the model part was skipped"
)


def evaluate(
    ref: str,
    vision_model: str | None = None,
    frames_per_scene: int = FRAMES_PER_SCENE,
    settings: Settings | None = None,
) -> VideoEvaluation:
    """Evaluate the finished video of a task id or a video key. Raises NotEvaluable (no such
    task or video, or nothing joined yet) and ValueError (an unknown model name)."""
    started = time.perf_counter()
    settings = settings or get_settings()
    if vision_model is not None and vision_model not in known_models(settings.llm):
        known = ", ".join(sorted(known_models(settings.llm)))
        raise ValueError(f"unknown vision model {vision_model!r}; known models: {known}")
    if not 1 <= frames_per_scene <= 8:
        raise ValueError(f"frames per scene must be 1-8, got {frames_per_scene}")
    if not settings.database_url and not settings.metadata_path.exists():
        raise NotEvaluable(
            f"no metadata store at {settings.metadata_path}: nothing was generated with this "
            "VIDEOGEN_VAR_DIR"
        )
    meta = (shared_postgres_store(settings.database_url) if settings.database_url
            else SqliteMetadataStore(settings.metadata_path))
    target = locate(meta, StoreConfig.from_settings(settings), ref)
    manifest = target.manifest
    with tempfile.TemporaryDirectory(prefix="evaluate-") as tmp:
        work = Path(tmp)
        videos = {
            int(s["scene_number"]): target.store.download(
                s["assets"]["video"]["key"], work / f"scene{int(s['scene_number']):02d}.mp4"
            )
            for s in manifest["scenes"]
        }
        scenes = [
            evaluate_scene(target, s, videos[int(s["scene_number"])]) for s in manifest["scenes"]
        ]
        combined = target.store.download(
            manifest["combined"]["video"]["key"], work / "combined.mp4"
        )
        summary = totals(scenes, combined)
        model = vision_model or target.models[0]
        judgement, skipped, error = None, None, None
        routes = load_routes(settings.llm)
        if model not in routes:
            skipped = NO_MODEL.format(model=model)
        else:
            material = [
                SceneMaterial(
                    number=s.scene_number,
                    title=s.title,
                    duration=s.duration,
                    narration=_narration(raw, s.cues),
                    video=videos[s.scene_number],
                )
                for s, raw in zip(scenes, manifest["scenes"], strict=True)
            ]
            judgement, error = _judged(
                LLMClient(routes), model, target, material, work, frames_per_scene
            )
    return VideoEvaluation(
        video_key=target.video_key,
        task_id=target.task_id,
        prompt=str(manifest.get("prompt") or ""),
        topic=str(manifest.get("topic") or ""),
        planner=str(manifest.get("planner") or ""),
        warnings=list(manifest.get("warnings") or []),
        render=dict(manifest.get("render") or {}),
        scenes=scenes,
        totals=summary,
        judgement=judgement,
        judgement_skipped=skipped,
        judgement_error=error,
        seconds=round(time.perf_counter() - started, 2),
    )


def _narration(raw: dict, cues: list) -> list[str]:
    """What the scene says: its spoken lines, else its subtitles."""
    lines = ((raw.get("narration") or {}).get("lines")) or []
    return [str(line.get("text") or "") for line in lines] or [c.text for c in cues]


def _judged(
    client: LLMClient,
    model: str,
    target: Target,
    material: list[SceneMaterial],
    work: Path,
    per_scene: int,
) -> tuple[Judgement | None, str | None]:
    manifest = target.manifest
    try:
        return judge(
            client,
            model,
            str(manifest.get("prompt") or ""),
            str(manifest.get("topic") or ""),
            material,
            work,
            per_scene,
        ), None
    except LLMError as exc:
        return None, f"{model}: {exc}"
