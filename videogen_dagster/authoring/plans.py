"""The plan models: a video's plan (`VideoPlan`) and each scene's (`ScenePlan`): what is shown
(`kind` + `visual`) and what is said (`narration`). Written by a planner (offline or LLM), stored
with the video, read by the scene step and the code generators."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

SceneKind = Literal["title", "points", "equation", "diagram", "plot", "summary", "llm"]

OFFLINE_PLANNER = "offline-template-planner"


class ScenePlan(BaseModel):
    """One scene's implementation plan: what is shown (`kind` + `visual`) and what is said."""

    scene_number: int
    title: str
    kind: SceneKind
    narration: list[str] = Field(min_length=1)
    visual: dict = Field(default_factory=dict)


class VideoPlan(BaseModel):
    project_id: str
    session_id: str
    prompt: str
    topic: str
    scene_count: int
    planner: str = OFFLINE_PLANNER
    source: str | None = None  # where the facts came from, when not only the prompt
    # What the reader of the result should know about how the plan was made (an unknown topic,
    # a requested model that was not used); empty when there is nothing to say.
    warnings: list[str] = Field(default_factory=list)
    scenes: list[ScenePlan]

    def scene(self, scene_number: int) -> ScenePlan:
        for s in self.scenes:
            if s.scene_number == scene_number:
                return s
        raise KeyError(f"the plan has no scene {scene_number} (it has {self.scene_count})")
