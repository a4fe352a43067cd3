"""The warm parent's prewarm (launcher/warm_preload.py, in dagster.yaml's `preload_modules`)
starts no thread, since a forked run worker keeps only the forking one, and leaves done the work
it saves runs. (The code location itself starts one native thread on import, numpy's OpenBLAS
pool, which registers its own fork handlers.)"""

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import importlib, os, sys
def threads():
    return len(os.listdir("/proc/self/task"))
import dagster._cli.api
for name in sys.argv[1:-1]:
    importlib.import_module(name)
before = threads()
importlib.import_module(sys.argv[-1])
from videogen_dagster.media.speech import engines
print(before, threads(), "onnxruntime" in sys.modules, "av" in sys.modules, len(engines._digests))
"""


def test_preloading_starts_no_thread_and_leaves_the_model_verified():
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    preload = config["run_launcher"]["config"]["preload_modules"]
    assert preload[-1] == "videogen_dagster.launcher.warm_preload"
    out = subprocess.run([sys.executable, "-c", PROBE, *preload], cwd=REPO, capture_output=True, text=True,
                         check=True, timeout=300).stdout.split()
    before, after, onnxruntime, av, digests = out
    assert after == before, f"preloading started {int(after) - int(before)} thread(s)"
    assert onnxruntime == "False" and av == "True"
    assert int(digests) == 1  # the piper model's checksum, inherited by every run worker
