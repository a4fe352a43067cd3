"""The template scenes pass their own layout checks: a sample of the bundled theorems, every
scene of a 3-scene video rendered with the inspector on, has no finding (text inside the frame,
not overlapping, readable at 480p, with contrast)."""

import pytest

from videogen_dagster.authoring.codegen import generate_scene_code
from videogen_dagster.authoring.planning import plan_offline
from videogen_dagster.authoring.topics import theorem_library
from videogen_dagster.media.rendering import latex_available, render_scene
from videogen_dagster.models import RenderConfig

pytestmark = pytest.mark.slow
# Every 60th topic: a spread over the files (chemistry, physics, maths, computer science).
SAMPLE = [entry["theorem"] for entry in theorem_library()[::60]]


@pytest.mark.parametrize("theorem", SAMPLE)
def test_template_scenes_have_no_layout_finding(tmp_path, theorem):
    plan = plan_offline("layout", "s1", f"Explain {theorem}", 3, latex_available())
    findings = {}
    for scene in plan.scenes:
        generated = generate_scene_code(scene, 30)
        result = render_scene(
            generated.code, generated.class_name, tmp_path / f"s{scene.scene_number}",
            RenderConfig(quality="preview"),
        )
        assert result.layout_checks > 0, "the inspector looked at nothing"
        if result.layout:
            findings[scene.scene_number] = [f.message for f in result.layout]
    assert findings == {}
