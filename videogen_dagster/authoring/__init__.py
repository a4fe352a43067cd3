"""Authoring: what a video says and the Manim code that shows it. The offline planner
(`planning`, with the bundled TheoremExplainBench topics in `data/`), the template code generator
(`codegen`, with the Jinja templates in `templates/`), the LLM agents and their budget (`llm`),
model names and routes (`llm_routes`) and the Manim documentation index the agents retrieve from
(`rag`). Plain Python: no Dagster imports.
"""
