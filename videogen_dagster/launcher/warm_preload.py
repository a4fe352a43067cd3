"""Work every run worker would repeat, done once in the warm parent before it forks
(launcher/warm_worker.py imports this module: `preload_modules` in dagster.yaml).

Measured with py-spy in an edit's run worker: importing PyAV took ~30 ms of CPU (its first probe)
and the piper model's SHA-256 ~60-100 ms (verified once per process and file version, and each
run was a new process). A forked child inherits both. Nothing here may start a thread (a forked
child keeps only the thread that forked): piper's onnxruntime, which starts one on import, is not
imported here (`engines.verify_model` reads the model's file without it)."""

from __future__ import annotations

import av  # noqa: F401  # PyAV: probes and the encoder runtime's checks

from videogen_dagster.media.speech import engines

try:
    engines.verify_model()
except engines.SpeechError:  # no piper model here: a narrated run says so itself
    pass
