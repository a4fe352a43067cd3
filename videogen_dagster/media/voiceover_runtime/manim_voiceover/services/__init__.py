"""Speech services named in manim-voiceover's documentation; the deployment's voice speaks."""
