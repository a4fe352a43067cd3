"""Model answers that always parse: structured outputs where the provider has them, JSON mode and
plain text where it refuses them (remembered), JSON found in prose, one repair, a clear error.
Against tests/fake_openai.py playing each kind of provider; no render."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest

from videogen_dagster.authoring.codegen import GeneratedScene
from videogen_dagster.authoring.llm import (
    Agents,
    Budget,
    InvalidAnswer,
    LLMClient,
    LLMError,
    PlanAnswer,
    VerdictAnswer,
    load_routes,
)
from videogen_dagster.authoring.llm_client import FormatRefused
from videogen_dagster.authoring.planning import ScenePlan
from videogen_dagster.authoring.structured import (
    FORMATS,
    extract_json,
    is_format_refusal,
    strict_schema,
)
from videogen_dagster.models import GenerateRequest

from .fake_openai import PROSE_FENCED, PROSE_INLINE, FakeOpenAI, strict_problem

SCENES = [
    {"title": "A circle", "narration": ["Here is a circle.", "It is round."],
     "visual_plan": "Draw a blue circle", "duration": 4},
    {"title": "Its area", "narration": ["Its area is pi r squared."],
     "visual_plan": "Show A = pi r^2", "duration": 3},
]  # fmt: skip
PLAN = json.dumps({"topic": "Circles", "scenes": SCENES})
CODE = "from manim import *\n\n\nclass Scene01(Scene):\n    def construct(self):\n        self.play(Create(Circle(radius=3)))\n"
VERDICT = json.dumps({"ok": False, "problems": ["the circle is too small"], "code": CODE})
VERDICT_OK = json.dumps({"ok": True, "problems": [], "code": None})
REQUEST = GenerateRequest.model_validate({
    "project_id": "p", "session_id": "s1", "content_prompt": "Explain circles", "scene_count": 2,
    "render_config": {"quality": "preview", "max_scene_duration": 5},
})  # fmt: skip
SCENE = ScenePlan(scene_number=1, title="A circle", kind="llm", narration=["Here is a circle."])
CURRENT = GeneratedScene(code=CODE.replace("radius=3", ""), class_name="Scene01", cues=[],
                         expected_duration=1)  # fmt: skip

# Each kind of provider, and the response_format types an answer takes there.
PROVIDERS = {
    "structured outputs": ({"response_format": "honour"}, ["json_schema"]),
    "refuses response_format": ({"response_format": "refuse"}, ["json_schema", "json_object", None]),
    "refuses json_schema only": (
        {"response_format": "refuse", "refuse": ("json_schema",)}, ["json_schema", "json_object"],
    ),
    "JSON fenced in prose": ({"prose": PROSE_FENCED}, ["json_schema"]),
    "JSON inline in prose": ({"prose": PROSE_INLINE}, ["json_schema"]),
}  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_memory():
    FORMATS.forget()
    yield
    FORMATS.forget()


@pytest.fixture(params=list(PROVIDERS))
def provider(request):
    kwargs, formats = PROVIDERS[request.param]
    server = FakeOpenAI(**kwargs)
    yield server, formats
    server.close()
    assert server.script_errors == []


def _agents(server: FakeOpenAI, **model_config) -> Agents:
    routes = load_routes({"OPENAI_API_KEY": server.api_key, "OPENAI_BASE_URL": server.url})
    config = REQUEST.llm.model_copy(update=model_config)
    return Agents(client=LLMClient(routes, Budget(), backoff=0.01), config=config)


def test_every_provider_gives_a_valid_plan(provider):
    server, formats = provider
    server.script = {"planner": [PLAN]}
    plan = _agents(server).plan(REQUEST)
    assert [s.title for s in plan.scenes] == ["A circle", "Its area"]
    assert plan.scenes[0].narration == ["Here is a circle.", "It is round."]
    assert plan.scenes[1].visual == {"plan": "Show A = pi r^2", "duration": 3}
    assert server.formats() == formats
    # The first ask is always a strict schema generated from the models, scene count included.
    sent = server.requests[0]["response_format"]["json_schema"]
    assert sent["name"] == "plan" and sent["strict"] is True
    scenes = sent["schema"]["properties"]["scenes"]
    assert scenes["minItems"] == scenes["maxItems"] == 2
    assert strict_problem(sent["schema"]) is None


def test_every_provider_gives_a_valid_verdict(provider, tmp_path: Path):
    server, formats = provider
    server.script = {"visual": [VERDICT, VERDICT_OK]}
    frame = tmp_path / "frame.png"
    frame.write_bytes(b"\x89PNG\r\n\x1a\n")
    agents = _agents(server)
    problems, corrected = agents.review_frames(SCENE, CURRENT, [frame], REQUEST)
    assert problems == ["the circle is too small"]
    assert corrected is not None and "Circle(radius=3)" in corrected.code
    assert corrected.class_name == "Scene01"
    assert agents.review_frames(SCENE, CURRENT, [frame], REQUEST) == ([], None)
    # The second review starts where the first one ended up.
    assert server.formats() == [*formats, formats[-1]]
    assert server.requests[0]["response_format"]["json_schema"]["name"] == "verdict"


def test_a_refusal_is_remembered_for_the_endpoint_and_model():
    server = FakeOpenAI(response_format="refuse")
    try:
        server.script = {"planner": [PLAN, PLAN, PLAN]}
        first = _agents(server)
        first.plan(REQUEST)
        # Another video: a new client in the same process skips what failed.
        second = _agents(server)
        second.plan(REQUEST)
        assert server.formats() == ["json_schema", "json_object", None, None]
        assert server.statuses == [400, 400, 200, 200]
        assert "response_format" not in server.requests[3]
        # Refused calls cost nothing: one call counted per plan.
        assert first.client.budget.used.calls == second.client.budget.used.calls == 1
        # Another model on the same endpoint is asked for structured output again.
        _agents(server, planner_model="gpt-4o").plan(REQUEST)
        assert server.formats()[4:] == ["json_schema", "json_object", None]
    finally:
        server.close()


def test_concurrent_calls_share_the_memory():
    server = FakeOpenAI(response_format="refuse")
    try:
        server.script = {"planner": [PLAN] * 7}
        with ThreadPoolExecutor(6) as pool:
            plans = list(pool.map(lambda _: _agents(server).plan(REQUEST), range(6)))
        assert all(len(p.scenes) == 2 for p in plans)
        assert server.formats().count(None) == 6  # each plan answered once, in plain text
        before = len(server.requests)
        _agents(server).plan(REQUEST)
        assert server.formats()[before:] == [None]
    finally:
        server.close()


def test_a_schema_the_provider_finds_invalid_falls_back_to_json_mode():
    server = FakeOpenAI(response_format="honour")
    try:
        server.script = {"planner": [PLAN]}
        client = _agents(server).client
        loose = PlanAnswer.model_json_schema()  # minLength, titles, no additionalProperties
        msgs = [{"role": "system", "content": "You plan. Answer in JSON."}]
        with pytest.raises(FormatRefused, match="Invalid schema for response_format 'plan'"):
            client.chat("planner", "gpt-4o-mini", msgs, 0.7, 100,
                        {"type": "json_schema",
                         "json_schema": {"name": "plan", "schema": loose, "strict": True}})  # fmt: skip
        answer = client.chat_json("planner", "gpt-4o-mini", msgs, PlanAnswer, name="plan",
                                  schema=loose, temperature=0.7, max_tokens=100)  # fmt: skip
        assert answer.topic == "Circles"
        assert server.formats() == ["json_schema", "json_schema", "json_object"]
    finally:
        server.close()


def test_a_malformed_answer_is_repaired_once_then_fails_clearly(tmp_path: Path):
    server = FakeOpenAI()  # accepts response_format and ignores it: the model answers as it likes
    try:
        server.script = {"planner": ["Sure! Here is a plan: {not json", PLAN]}
        assert len(_agents(server).plan(REQUEST).scenes) == 2
        repair = server.requests[1]["messages"]
        assert repair[-2] == {"role": "assistant", "content": "Sure! Here is a plan: {not json"}
        assert repair[-1]["content"].startswith("That answer is invalid: no JSON object")

        one_scene = json.dumps({"topic": "Circles", "scenes": SCENES[:1]})
        server.script = {"planner": [one_scene, one_scene]}
        with pytest.raises(InvalidAnswer, match="not a valid plan after a repair attempt: "
                                                "expected 2 scenes, got 1"):  # fmt: skip
            _agents(server).plan(REQUEST)
        server.script = {"planner": ["{}", '{"topic": "x"}']}
        with pytest.raises(
            LLMError, match="the planner's answer is not a valid plan after a repair"
        ):
            _agents(server).plan(REQUEST)

        # A verdict that never parses leaves the render as it is, after the same one repair.
        server.script = {"visual": ["Looks fine to me!", '{"problems": []}']}
        frame = tmp_path / "frame.png"
        frame.write_bytes(b"\x89PNG\r\n\x1a\n")
        before = len(server.requests)
        assert _agents(server).review_frames(SCENE, CURRENT, [frame], REQUEST) == ([], None)
        assert server.roles()[before:] == ["visual", "visual"]
    finally:
        server.close()


def _keywords(node: dict) -> set[str]:
    """Every keyword used in a schema (property names are not keywords)."""
    found = set(node)
    children = [*node.get("properties", {}).values(), *node.get("anyOf", [])]
    if "items" in node:
        children.append(node["items"])
    for child in children:
        found |= _keywords(child)
    return found


@pytest.mark.parametrize("model", [PlanAnswer, VerdictAnswer])
def test_strict_schema_is_what_strict_mode_accepts(model):
    schema = strict_schema(model)
    assert strict_problem(schema) is None
    assert not _keywords(schema) & {"minLength", "maxLength", "default", "title", "$ref", "$defs"}
    if model is PlanAnswer:
        jsonschema.validate(json.loads(PLAN), schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"topic": "x", "scenes": [], "extra": 1}, schema)
    else:
        jsonschema.validate(json.loads(VERDICT_OK), schema)


@pytest.mark.parametrize(
    "text",
    [
        PLAN,
        f"```json\n{PLAN}\n```",
        f"```\n{PLAN}```",
        PROSE_FENCED.format(answer=PLAN),
        PROSE_INLINE.format(answer=PLAN),
        f'<think>maybe {{"topic": "wrong"}}?</think>\n{PLAN}',
    ],
)
def test_json_is_found_in_prose_and_fences(text):
    assert extract_json(text)["topic"] == "Circles"


def test_no_json_is_a_clear_value_error():
    with pytest.raises(ValueError, match="no JSON object in the answer, which begins 'Sorry"):
        extract_json("Sorry, {I cannot} do that")


@pytest.mark.parametrize(
    ("status", "message", "param", "refusal"),
    [
        (400, "Invalid parameter: 'response_format' of type 'json_schema' is not supported "
              "with this model.", None, True),  # OpenAI, older models
        (400, "response_format type 'json_object' is not supported", "response_format", True),
        (400, "The provided JSON schema contains features not supported by xgrammar.", None,
         True),  # vLLM
        (400, "'response_format.type' must be 'json_schema'", None, True),  # LM Studio
        (422, "unknown field `response_format`", None, True),
        (400, "Unsupported parameter: 'temperature' is not supported with this model.",
         "temperature", False),  # o1: another parameter
        (400, "This model's maximum context length is 8192 tokens", None, False),
        (500, "response_format crashed the server", None, False),
    ],
)  # fmt: skip
def test_format_refusals_are_told_from_other_errors(status, message, param, refusal):
    assert is_format_refusal(status, message, param) is refusal
