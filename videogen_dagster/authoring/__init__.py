"""Authoring: what a video says and the Manim code that shows it. The plan models and the offline
planner (`planning`), what it knows of a topic (`topics`: the bundled TheoremExplainBench
descriptions in `data/`, facts and formulas read out of text), the template code generator
(`codegen`, with the Jinja templates in `templates/`), the LLM agents and their budget (`llm`),
model names and routes (`llm_routes`) and the Manim documentation index the agents retrieve from
(`rag`). Plain Python: no Dagster imports.
"""
