"""Planner and scene coder. Embedded default: the offline planner and template code generator."""

from typing import Literal

import dagster as dg

from videogen_dagster.pipeline import Coder, Planner, offline_planner, template_coder


class LLMResource(dg.ConfigurableResource):
    """Which planner and coder write the scenes. `offline` needs no key and no network."""

    provider: Literal["offline"] = "offline"

    def planner(self) -> Planner:
        return offline_planner

    def coder(self) -> Coder:
        return template_coder
