"""Planner and scene coder: any OpenAI-compatible endpoint when a key is configured, else the
embedded default, the offline planner and template code generator."""

from typing import Literal

import dagster as dg

from videogen_dagster.authoring.llm import Agents, Budget, LLMClient, Usage, load_routes
from videogen_dagster.models import GenerateRequest
from videogen_dagster.pipeline import Coder, Planner, offline_planner, template_coder
from videogen_dagster.settings import get_settings


class LLMResource(dg.ConfigurableResource):
    """Which planner and coder write the scenes.

    `auto`: the LLM agents when OPENAI_API_KEY (or VIDEOGEN_MODELS_FILE) gives an endpoint, the
    offline planner otherwise; `offline`: always offline. Budgets are per video (0: none; unset:
    VIDEOGEN_BUDGET_TOKENS / VIDEOGEN_BUDGET_USD from the settings)."""

    provider: Literal["auto", "offline"] = "auto"
    budget_tokens: int | None = None
    budget_usd: float | None = None

    def planner(self) -> Planner:
        return offline_planner

    def coder(self) -> Coder:
        return template_coder

    def agents_factory(self):
        if self.provider == "offline":
            return None
        llm = get_settings().llm
        routes = load_routes(llm)
        if not routes:
            return None
        budget_tokens = llm.budget_tokens if self.budget_tokens is None else self.budget_tokens
        budget_usd = llm.budget_usd if self.budget_usd is None else self.budget_usd

        def make(request: GenerateRequest, used: dict) -> Agents:
            # The budget left for this step: what the video's earlier steps used is counted.
            budget = Budget(
                max_tokens=budget_tokens - int(used.get("total_tokens", 0)) if budget_tokens else None,
                max_cost_usd=budget_usd - float(used.get("cost_usd", 0.0)) if budget_usd else None,
                used=Usage(),
            )
            rag = None
            if request.llm.use_rag:
                from videogen_dagster.authoring.rag import default_index

                rag = default_index()
            return Agents(client=LLMClient(routes, budget), config=request.llm, rag=rag)

        return make
