"""The offline planner's topic knowledge: the bundled theorems and facts read out of text."""

from videogen_dagster.authoring.topics import find_equation, match_theorem, theorem_library


def test_library_has_the_bundled_theorems():
    assert len(theorem_library()) == 240


def test_prompt_matches_a_bundled_theorem():
    assert match_theorem("Explain the Pythagorean theorem")["theorem"] == "The Pythagorean Theorem"
    assert match_theorem("Explain how sourdough bread rises") is None


def test_equation_extraction():
    assert find_equation("then a² + b² = c².") == ("a² + b² = c²", "a^2 + b^2 = c^2")
    assert find_equation("the law of (k = 0 to n) sums") is None
