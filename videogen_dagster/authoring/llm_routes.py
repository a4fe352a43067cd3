"""Which model names exist and where each is served: the spec's models, and those of the models
file. No environment read here: everything comes from the settings' `llm` group, so request
validation (models.py) and the agents (llm.py) judge a model name the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from videogen_dagster.settings import LLMSettings, Settings, get_settings

SPEC_MODELS = ("gpt-4o-mini", "gpt-4o", "claude-3-sonnet", "claude-3-haiku")
# USD per 1M tokens (input, output); a routing file may override. Unknown: cost not counted.
DEFAULT_PRICES = {
    "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00),
    "claude-3-sonnet": (3.00, 15.00), "claude-3-haiku": (0.25, 1.25),
}


@dataclass(frozen=True)
class Route:
    model: str  # the name the API is asked for
    base_url: str | None
    api_key: str | None
    price_in: float | None = None
    price_out: float | None = None


def known_models(llm: LLMSettings) -> set[str]:
    """Model names a request may ask for: the spec's and the models file's."""
    return set(SPEC_MODELS) | set(llm.models)


def load_routes(source: LLMSettings | Mapping[str, str] | None = None) -> dict[str, Route]:
    """Model name -> endpoint, from the settings (default: this process's; a mapping is read as an
    environment). OPENAI_API_KEY/OPENAI_BASE_URL serve every spec model; the models file at
    VIDEOGEN_MODELS_FILE adds or overrides entries:

        claude-3-sonnet: {base_url: https://gateway/v1, api_key_env: GATEWAY_KEY,
                          model: anthropic/claude-3-sonnet, price_in: 3, price_out: 15}
    """
    if isinstance(source, LLMSettings):
        llm = source
    else:
        llm = (get_settings() if source is None else Settings.from_env(source)).llm
    routes: dict[str, Route] = {}
    if llm.api_key:
        for name in SPEC_MODELS:
            routes[name] = Route(name, llm.base_url, llm.api_key, *DEFAULT_PRICES.get(name, (None, None)))
    for name, entry in llm.models.items():
        price_in, price_out = DEFAULT_PRICES.get(name, (None, None))
        routes[name] = Route(
            entry.model or name, entry.base_url or llm.base_url,
            entry.api_key if entry.api_key_env else llm.api_key,
            price_in if entry.price_in is None else entry.price_in,
            price_out if entry.price_out is None else entry.price_out,
        )
    return routes
