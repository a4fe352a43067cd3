"""Step 1, the plan: register a video's request, then plan its scenes and store the plan."""

from __future__ import annotations

from dataclasses import dataclass, field

from videogen_dagster.authoring.planning import VideoPlan, topic_warnings
from videogen_dagster.models import GenerateRequest, scene_id
from videogen_dagster.pipeline.progress import advance, fail
from videogen_dagster.pipeline.services import PipelineError, Services
from videogen_dagster.pipeline.versions import plan_inputs, planner_identity, scene_brief
from videogen_dagster.settings import get_settings
from videogen_dagster.stores.metastore import MetadataStore, SceneStatus, Task
from videogen_dagster.stores.metastore.status import TaskKind
from videogen_dagster.stores.objectstore import StoredObject, plan_key

EDIT_STEPS = 4  # render the edit, store it, re-join, manifest

# VIDEOGEN_REQUIRE_LLM without a provider: the bridge (503), the plan step and so the CLI say this.
LLM_REQUIRED = (
    "no LLM provider is configured (set OPENAI_API_KEY or VIDEOGEN_MODELS_FILE) and "
    "VIDEOGEN_REQUIRE_LLM is on: generation is refused rather than made with the offline "
    "template planner"
)


class LLMRequired(PipelineError):
    """VIDEOGEN_REQUIRE_LLM is on and no LLM provider is configured."""

    def __init__(self) -> None:
        super().__init__(LLM_REQUIRED)


def models_asked(request: GenerateRequest) -> bool:
    """Whether the request named its models (a `model_config`), rather than taking the defaults."""
    return "llm" in request.model_fields_set


def models_ignored_warning(request: GenerateRequest) -> str:
    """What the result says when the request's models could not be used."""
    llm = request.llm
    named = [f"planner_model {llm.planner_model!r}"]
    named += [f"scene_model {llm.scene_model!r}"] if llm.scene_model else []
    named += [f"helper_model {llm.helper_model!r}"] if llm.helper_model else []
    return (
        f"model_config asked for {', '.join(named)}, but no LLM provider is configured "
        "(OPENAI_API_KEY or VIDEOGEN_MODELS_FILE): the offline template planner and coder were "
        "used instead"
    )


def offline_warnings(request: GenerateRequest) -> list[str]:
    """The warnings of a video made without an LLM: its requested models ignored, its topic
    unknown to the offline planner. Cheap (no plan is made): the bridge answers them at once."""
    ignored = [models_ignored_warning(request)] if models_asked(request) else []
    return ignored + topic_warnings(request.content_prompt)


def total_steps(scene_count: int) -> int:
    """plan + one per scene + combine + manifest."""
    return scene_count + 3


def register_request(
    meta: MetadataStore, request: GenerateRequest, task_id: str, message: str = "Task queued"
) -> Task:
    """Record a video's request and its generate task (idempotent for the same task id)."""
    assert request.session_id, "call with_session() first"
    # One transaction: refuses (VideoBusy) while the video is being generated or edited, else
    # stores the request and the task. A video that exists gets new versions beside its old ones.
    return meta.create_task(
        task_id,
        TaskKind.GENERATE,
        request.project_id,
        request.session_id,
        request.video_key,
        total_steps(request.scene_count),
        request.render_config.quality,
        message=message,
        exclusive=True,
        request=stored_request(request),
        webhook_url=get_settings().events.webhook_for(request.project_id, request.webhook_url),
    )


def stored_request(request: GenerateRequest) -> dict:
    """The request as the metadata store keeps it. Its `model_config` only when the request
    gave one: the plan step then knows whether models were asked for (and, without a provider,
    ignored)."""
    stored = request.to_stored()
    if not models_asked(request):
        stored.pop("model_config", None)
    return stored


def load_request(meta: MetadataStore, video_key: str) -> GenerateRequest:
    video = meta.get_video(video_key)
    if video is None:
        raise PipelineError(
            f"video {video_key!r} is not registered: start it with `videogen generate` or the "
            "REST API, or give content_prompt in the scene_plan run config"
        )
    return GenerateRequest.model_validate(video.request)


def load_plan(meta: MetadataStore, video_key: str) -> VideoPlan:
    video = meta.get_video(video_key)
    if video is None or not video.planned:
        raise PipelineError(f"video {video_key!r} has no plan yet: materialise scene_plan first")
    return VideoPlan.model_validate(video.plan)


@dataclass
class PlanOutcome:
    plan: VideoPlan
    version: int
    obj: StoredObject
    reused: bool = False  # the stored plan, made from the same request by the same planner
    briefs: dict[int, str] = field(default_factory=dict)  # versions.scene_inputs per scene


def run_plan(
    svc: Services, video_key: str, task_id: str | None, force: bool = False
) -> PlanOutcome:
    """Plan the video, or (unless `force`) reuse its plan when the request that shapes it and
    the planner are unchanged; then queue its scenes."""
    request = load_request(svc.meta, video_key)
    total = total_steps(request.scene_count)
    if task_id:
        svc.meta.start_task(task_id)
    advance(svc.meta, task_id, 0, total, "Planning scenes...", "planning")
    try:
        agents = svc.agents_for(request, video_key)
        if agents is None and get_settings().llm.require:
            raise LLMRequired()
        video = svc.meta.get_video(video_key)
        assert video is not None  # load_request found it
        inputs = plan_inputs(video.request, planner_identity(svc.planner, agents))
        stored = video.plan_object or {}
        reused = not force and video.planned and stored.get("inputs") == inputs
        if reused:
            plan, version = VideoPlan.model_validate(video.plan), video.plan_version
            obj = StoredObject.from_dict(stored)
        else:
            plan, version, obj = _plan_and_store(svc, request, video_key, agents)
    except Exception as exc:
        fail(svc.meta, task_id, "plan", exc, "Planning failed")
        raise
    if not reused:
        svc.meta.save_plan(
            video_key, plan.model_dump(mode="json"), version, {**obj.as_dict(), "inputs": inputs}
        )
    for s in plan.scenes:
        svc.meta.set_scene_status(
            video_key,
            s.scene_number,
            scene_id(plan.session_id, s.scene_number),
            s.title,
            SceneStatus.QUEUED,
        )
    said = "Plan unchanged (version {v}); checking scenes..." if reused else "Planned {n} scenes; rendering..."
    advance(
        svc.meta, task_id, 1, total, said.format(v=version, n=plan.scene_count), "planned"
    )
    briefs = _briefs(svc, request, plan, agents)
    return PlanOutcome(plan, version, obj, reused, briefs)


def _briefs(svc: Services, request: GenerateRequest, plan: VideoPlan, agents) -> dict[int, str]:
    """What each scene is made from (the scene step computes the same from the same inputs)."""
    return {s.scene_number: scene_brief(request, s, svc.narrator, svc.coder, agents) for s in plan.scenes}


def _plan_and_store(
    svc: Services, request: GenerateRequest, video_key: str, agents
) -> tuple[VideoPlan, int, StoredObject]:
    store, prefix = svc.store_for(request)
    # A missing bucket or bad credentials fail here, before any rendering is spent.
    store.check()
    try:
        plan = agents.plan(request) if agents else svc.planner(request)
    finally:
        if agents and agents.client.budget.used.calls:
            svc.meta.add_llm_usage(video_key, agents.client.budget.used.as_dict())
    if agents is None and models_asked(request):
        # The result, the manifest and the 202 say so: the requested models were not used.
        plan = plan.model_copy(
            update={"warnings": [models_ignored_warning(request), *plan.warnings]}
        )
    video = svc.meta.get_video(video_key)
    version = (video.plan_version if video else 0) + 1
    key = plan_key(prefix, request.project_id, plan.session_id, version)
    return plan, version, store.put_bytes(key, plan.model_dump_json(indent=2).encode())
