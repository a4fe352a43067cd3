"""Media: turning scene code into video files. The Manim subprocess (`rendering`), the static
check and bubblewrap confinement of scene code (`sandbox`), ffmpeg work: probe, thumbnail, join,
subtitles (`ffmpeg`), and the agents/render endpoint's render (`agent_render`, run by
agent_render_job). Plain Python: no Dagster imports.
"""
