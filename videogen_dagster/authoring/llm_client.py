"""Chat completions over any OpenAI-compatible endpoint: retries, budgets, and answers that are
validated against a pydantic model (structured outputs where the provider has them, see
structured.py)."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from videogen_dagster.authoring.llm_routes import Route
from videogen_dagster.authoring.structured import (
    FORMATS,
    extract_json,
    is_format_refusal,
    response_format,
    strict_schema,
)

log = logging.getLogger("videogen.llm")

Answer = TypeVar("Answer", bound=BaseModel)

# How an invalid answer's author is named in the error.
_AUTHORS = {"visual": "visual reviewer"}


class LLMError(RuntimeError):
    pass


class LLMAuthError(LLMError):
    pass


class BudgetExceeded(LLMError):
    pass


class InvalidAnswer(LLMError):
    """The answer did not validate, even after one repair attempt."""


class FormatRefused(LLMError):
    """The endpoint refused the `response_format` sent (a 400 naming it)."""


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    by_role: dict[str, dict] = field(default_factory=dict)

    def add(self, role: str, model: str, prompt: int, completion: int, cost: float) -> None:
        self.calls += 1
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.cost_usd = round(self.cost_usd + cost, 6)
        r = self.by_role.setdefault(
            role, {"model": model, "calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
        )
        r["calls"] += 1
        r["prompt_tokens"] += prompt
        r["completion_tokens"] += completion

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict:
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
            "by_role": self.by_role,
        }


@dataclass
class Budget:
    """A per-video budget: generation stops before a call could exceed it."""

    max_tokens: int | None = None
    max_cost_usd: float | None = None
    used: Usage = field(default_factory=Usage)

    def check(self, estimate_tokens: int, estimate_cost: float) -> None:
        used = self.used
        if self.max_tokens is not None and used.total_tokens + estimate_tokens > self.max_tokens:
            raise BudgetExceeded(
                f"token budget of {self.max_tokens} would be exceeded: {used.total_tokens} used, "
                f"the next call may take {estimate_tokens}"
            )
        if self.max_cost_usd is not None and used.cost_usd + estimate_cost > self.max_cost_usd:
            raise BudgetExceeded(
                f"budget of ${self.max_cost_usd:.4f} would be exceeded: ${used.cost_usd:.4f} "
                f"used, the next call may cost ${estimate_cost:.4f}"
            )


class LLMClient:
    """Chat completions with retries on 429/5xx/timeouts; an auth error fails at once."""

    def __init__(
        self,
        routes: dict[str, Route],
        budget: Budget | None = None,
        max_attempts: int = 4,
        backoff: float = 0.5,
        timeout: float = 120.0,
    ):
        self.routes, self.budget = routes, budget or Budget()
        self.max_attempts, self.backoff, self.timeout = max_attempts, backoff, timeout
        self._clients: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def _route(self, model: str) -> Route:
        route = self.routes.get(model)
        if route is None:
            raise LLMError(
                f"model {model!r} has no endpoint: set OPENAI_API_KEY or add it to "
                "VIDEOGEN_MODELS_FILE"
            )
        return route

    def _client(self, route: Route):
        import openai

        key = (route.base_url, route.api_key)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = openai.OpenAI(
                    api_key=route.api_key or "missing",
                    base_url=route.base_url,
                    max_retries=0,
                    timeout=self.timeout,
                )
            return self._clients[key]

    def chat(
        self,
        role: str,
        model: str,
        messages: list[dict],
        temperature: float,
        max_tokens: int,
        response_format: dict[str, Any] | None = None,
    ) -> str:
        """The answer's text. With `response_format`, a 400 that refuses it is FormatRefused."""
        import openai

        route = self._route(model)
        prompt_estimate = sum(len(json.dumps(m.get("content", ""))) for m in messages) // 4
        self.budget.check(
            prompt_estimate + max_tokens, self._cost(route, prompt_estimate, max_tokens)
        )
        extra = {} if response_format is None else {"response_format": response_format}
        last: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                resp = self._client(route).chat.completions.create(
                    model=route.model,
                    messages=messages,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    **extra,
                )
            except openai.AuthenticationError as exc:
                raise LLMAuthError(
                    f"the endpoint for {model!r} rejected the API key: {exc}"
                ) from None
            except (
                openai.RateLimitError,
                openai.InternalServerError,
                openai.APITimeoutError,
                openai.APIConnectionError,
            ) as exc:
                last = exc
                if attempt < self.max_attempts:
                    time.sleep(self.backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
                continue
            except openai.APIStatusError as exc:
                body = exc.body if isinstance(exc.body, dict) else {}
                message = str(body.get("message") or exc.message)
                if response_format and is_format_refusal(exc.status_code, message, exc.param):
                    raise FormatRefused(
                        f"{model} refused response_format {response_format['type']}: {message}"
                    ) from None
                raise LLMError(f"{model} answered HTTP {exc.status_code}: {exc.message}") from None
            usage = resp.usage
            p, c = (usage.prompt_tokens, usage.completion_tokens) if usage else (prompt_estimate, 0)
            self.budget.used.add(role, model, p, c, self._cost(route, p, c))
            message_out = resp.choices[0].message
            if not message_out.content and getattr(message_out, "refusal", None):
                raise LLMError(f"{model} declined to answer: {message_out.refusal}")
            return message_out.content or ""
        raise LLMError(f"{model} unavailable after {self.max_attempts} attempts: {last}")

    def chat_json(
        self,
        role: str,
        model: str,
        messages: list[dict],
        answer: type[Answer],
        *,
        name: str,
        temperature: float,
        max_tokens: int,
        schema: dict[str, Any] | None = None,
        check: Callable[[Answer], None] | None = None,
    ) -> Answer:
        """An answer validated as `answer` (and by `check`, which raises ValueError), asked for
        as structured output where the endpoint allows it. An invalid answer is sent back once
        with the validation error; a second is InvalidAnswer."""
        schema = schema or strict_schema(answer)
        messages = list(messages)
        for attempt in (1, 2):
            text = self._structured(role, model, messages, name, schema, temperature, max_tokens)
            try:
                data = answer.model_validate(extract_json(text))
                if check is not None:
                    check(data)
                return data
            except (ValueError, ValidationError) as exc:
                if attempt == 2:
                    raise InvalidAnswer(
                        f"the {_AUTHORS.get(role, role)}'s answer is not a valid {name} after a "
                        f"repair attempt: {exc}"
                    ) from None
                messages += [
                    {"role": "assistant", "content": text},
                    {
                        "role": "user",
                        "content": f"That answer is invalid: {exc}. Answer again with JSON only.",
                    },
                ]
        raise AssertionError("unreachable")

    def _structured(
        self,
        role: str,
        model: str,
        messages: list[dict],
        name: str,
        schema: dict[str, Any],
        temperature: float,
        max_tokens: int,
    ) -> str:
        """One answer in the most constrained format the endpoint has not refused."""
        route = self._route(model)
        endpoint = str(self._client(route).base_url)
        for fmt in FORMATS.ladder(endpoint, route.model):
            try:
                return self.chat(
                    role,
                    model,
                    messages,
                    temperature,
                    max_tokens,
                    response_format(fmt, name, schema),
                )
            except FormatRefused as exc:
                following = FORMATS.refused(endpoint, route.model, fmt)
                log.warning("%s; asking %s for %s from now on", exc, endpoint, following.value)
        raise AssertionError("plain text is never refused as a format")

    @staticmethod
    def _cost(route: Route, prompt: int, completion: int) -> float:
        if route.price_in is None or route.price_out is None:
            return 0.0
        return (prompt * route.price_in + completion * route.price_out) / 1_000_000
