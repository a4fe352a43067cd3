"""Untrusted scene code: a static check before it runs, and confinement while it runs.

Static check (`check_code`): the code must parse; it may import only what a Manim scene needs; it
may not name dangerous builtins (`__import__`, `eval`, `exec`, `open`, `getattr`...), dunder
attributes or names (other than `__init__`), or reach modules through attributes (`utils.os`).
Every violation is listed with its line number. It cannot see file reads through numpy
(`np.loadtxt`, `np.genfromtxt`, `np.fromfile`, `np.load`): the confinement is what stops those.

Confinement (`confined_command` + `limits_preexec`), because a static check can be fooled:
- environment: bubblewrap starts the render from an empty environment (`--clearenv`) plus the
  allow-list of `render_env` (PATH=SAFE_PATH, HOME/XDG_CACHE_HOME/MPLCONFIGDIR in the work folder,
  TMPDIR, LANG/LC_ALL=C.UTF-8, PYTHONDONTWRITEBYTECODE, PYTHONNOUSERSITE, OMP/OPENBLAS thread
  counts); bubblewrap itself is started with that same environment, so no process in the
  sandbox's PID namespace ever held the server's variables (API keys, tokens, secrets).
- filesystem: a new, read-only root that holds only
    /usr (read-only; /bin, /sbin, /lib, /lib64 as the symlinks into it they are on merged-/usr),
    /etc/fonts, /etc/texmf, /etc/ld.so.cache, /etc/localtime, /var/lib/texmf,
    /var/cache/fontconfig (read-only, those that exist),
    the Python install (sys.base_prefix) and the virtualenv (sys.prefix) at their own paths,
    read-only: only the venv folder, not the checkout it may sit in (an editable install's
    finder in site-packages then points at an empty folder: a render never imports the project),
    /dev (bubblewrap's minimal one), /proc of its own PID namespace, a private /tmp that the
    sandbox user cannot write to, and the work folder, writable, at INNER_WORKDIR (/tmp/scene).
  Not visible: the checkout (its code, README, pyproject, .env), var/ (objects, metadata,
  Dagster home), /root and /home (but the interpreter's own install below them), the rest of
  /etc (passwd, shadow, ssl, hosts...), the rest of /var, /srv, /opt, /mnt, /sys, the host's /tmp.
- no network (own network namespace: only its own loopback); own PID, IPC and UTS namespaces;
  killed with its parent;
- runs as an unprivileged user (nobody, via setpriv), in its own session/process group, at a
  lower CPU priority (`Limits.nice`, RENDER_NICE: nice value and session group);
- rlimits: CPU seconds, address space (memory), largest file written, number of processes;
- the caller enforces wall-clock time and kills the whole process group.
Not enforced: reading what is visible (all of /usr, the Python install and virtualenv, fonts and
TeX files; /proc's host-wide files such as /proc/cpuinfo, /proc/meminfo, /proc/cmdline), CPU
share between concurrent renders, and disk use by the number of files (only each file's size is
capped). TeX, ffmpeg and fonts are found only under /usr (PATH is SAFE_PATH): a TeX Live
installed elsewhere is not seen by renders.
"""

from __future__ import annotations

import ast
import os
import pwd
import resource
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# fmt: off
ALLOWED_IMPORTS = {
    "manim", "numpy", "math", "random", "itertools", "functools", "collections", "typing",
    "dataclasses", "enum", "fractions", "decimal", "statistics", "string", "colorsys", "__future__",
    # Our offline runtime of manim-voiceover's scene API (media/voiceover_runtime), not PyPI's.
    "manim_voiceover",
}
FORBIDDEN_NAMES = {
    "__import__", "eval", "exec", "compile", "open", "input", "breakpoint", "globals", "locals",
    "vars", "getattr", "setattr", "delattr", "memoryview", "help", "exit", "quit",
    # module names that star imports or aliases could bring in
    "os", "sys", "subprocess", "socket", "ctypes", "importlib", "builtins", "shutil", "pathlib",
    "io", "pickle", "marshal", "threading", "multiprocessing", "signal", "tempfile", "urllib",
    "http", "requests", "httpx", "inspect", "gc", "resource", "pty", "fcntl",
}
FORBIDDEN_ATTRIBUTES = {
    "os", "sys", "subprocess", "system", "popen", "spawn", "execv", "execve", "fork", "socket",
    "builtins", "shutil", "ctypes", "importlib", "pathlib", "environ", "remove", "unlink", "rmtree",
    "rmdir", "chmod", "chown", "kill", "write_text", "write_bytes", "open", "urlopen", "file_ops",
}
# fmt: on
ALLOWED_DUNDERS = {"__init__", "__name__"}


@dataclass(frozen=True)
class Violation:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class UnsafeCodeError(ValueError):
    def __init__(self, violations: list[Violation]):
        self.violations = violations
        super().__init__(
            "scene code refused by the static check:\n" + "\n".join(f"  {v}" for v in violations)
        )


def check_code(code: str) -> list[Violation]:
    """Every reason to refuse this code, with line numbers (empty: it may run, confined)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return [Violation(exc.lineno or 0, f"syntax error: {exc.msg}")]
    out: list[Violation] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in ALLOWED_IMPORTS:
                    out.append(Violation(line, f"import of {alias.name!r} is not allowed"))
        elif isinstance(node, ast.ImportFrom):
            root = (node.module or "").split(".")[0]
            if node.level or root not in ALLOWED_IMPORTS:
                out.append(Violation(line, f"import from {node.module or '.'!r} is not allowed"))
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_NAMES:
                out.append(Violation(line, f"use of {node.id!r} is not allowed"))
            elif node.id.startswith("__") and node.id not in ALLOWED_DUNDERS:
                out.append(Violation(line, f"use of {node.id!r} is not allowed"))
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("__") and node.attr not in ALLOWED_DUNDERS:
                out.append(
                    Violation(line, f"access to dunder attribute {node.attr!r} is not allowed")
                )
            elif node.attr in FORBIDDEN_ATTRIBUTES:
                out.append(Violation(line, f"access to attribute {node.attr!r} is not allowed"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "__" in node.value:
            if any(part.startswith("__") or part.endswith("__") for part in node.value.split(".")):
                out.append(Violation(line, f"string {node.value[:40]!r} names a dunder"))
        elif isinstance(node, ast.Global | ast.Nonlocal):
            out.append(Violation(line, "global/nonlocal statements are not allowed"))
        if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
            # np.load(..., allow_pickle=True) runs code from a pickle: a way around this check.
            out.append(Violation(line, "loading pickles (allow_pickle) is not allowed"))
        elif isinstance(node, ast.Constant) and node.value == "allow_pickle":
            out.append(Violation(line, "loading pickles (allow_pickle) is not allowed"))
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "load" and len(node.args) >= 3
        ):
            out.append(Violation(line, "loading pickles (np.load's third argument) is not allowed"))
    return sorted(set(out), key=lambda v: (v.line, v.message))


def require_safe(code: str) -> None:
    violations = check_code(code)
    if violations:
        raise UnsafeCodeError(violations)


# --- confinement ---------------------------------------------------------------------------------


# Renders are batch work: they yield the cores to what answers people (the bridge, Dagster's
# webserver and daemon). Measured: bench/bench_status.py, README "status polling".
RENDER_NICE = 10


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 600
    memory_bytes: int = 6 * 1024**3  # address space: Manim + numpy + cairo map a lot
    file_bytes: int = 1024**3
    processes: int = 256  # counted per user; the sandbox user is `nobody`
    nice: int = RENDER_NICE  # 0: the render competes with the services as an equal


# Lowers the session group's priority and the nice value, then becomes the render (same process,
# same environment: a shell would add and reorder variables).
_LOWER_PRIORITY = """import os, sys
try:
    with open("/proc/self/autogroup", "w") as f:
        f.write(sys.argv[1])
except OSError:
    pass
os.nice(int(sys.argv[1]))
os.execvp(sys.argv[2], sys.argv[2:])
"""


def niced_command(cmd: list[str], nice: int) -> list[str]:
    """`cmd` at a lower CPU priority: its nice value and its session's group (autogroup kernels
    schedule sessions as groups; a nice value counts only within one). Inside bubblewrap."""
    if nice <= 0:
        return cmd
    return [sys.executable, "-I", "-S", "-c", _LOWER_PRIORITY, str(nice), *cmd]


def sandbox_user() -> tuple[int, int] | None:
    """(uid, gid) to drop to when running as root; None when already unprivileged."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam("nobody")
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        return 65534, 65534


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


# Where the work folder appears inside the sandbox (on its private /tmp), whatever its real
# path: the real one may sit below folders the sandbox user cannot enter.
INNER_WORKDIR = "/tmp/scene"

# The only PATH a render gets (confined or not): latex, dvisvgm and ffmpeg come from here.
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"

# System folders, read-only. On merged-/usr systems /bin, /sbin and /lib* are symlinks into /usr
# and are recreated as the same symlinks.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
# What libraries read outside /usr, found by tracing a Text + MathTex render (strace -e %file):
# fontconfig's configuration and cache, TeX's configuration, format files and file name database,
# the dynamic loader's cache, the time zone. Missing ones are skipped.
SYSTEM_FILES = (
    "/etc/fonts",
    "/etc/texmf",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/var/lib/texmf",
    "/var/cache/fontconfig",
)


def render_env(home: str) -> dict[str, str]:
    """The whole environment of a render: nothing of the server's (API keys, tokens) gets in."""
    return {
        "PATH": SAFE_PATH,
        "HOME": home,
        "TMPDIR": "/tmp",
        "XDG_CACHE_HOME": f"{home}/.cache",
        "MPLCONFIGDIR": f"{home}/.cache",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


def python_paths() -> list[str]:
    """The interpreter's install and the virtualenv (only the venv folder itself, not the project
    checkout it may sit in), at the paths the interpreter knows them by."""
    paths = set()
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        paths |= {str(Path(p).absolute()), str(Path(p).resolve())}
    paths.add(str(Path(sys.executable).resolve().parent.parent))
    return sorted(paths)


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def confined_command(cmd: list[str], workdir: Path) -> list[str]:
    """`cmd` wrapped in bubblewrap, started from an empty environment (`render_env`) in a new
    root that holds only the system folders, the Python install and virtualenv (read-only) and
    the work folder (writable, at INNER_WORKDIR); no network."""
    work = INNER_WORKDIR
    # /tmp first: a Python install below /tmp (a checkout there) is mounted on top of it.
    mounts: list[str] = ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    bound: list[str] = []
    for folder in SYSTEM_DIRS:
        path = Path(folder)
        if path.is_symlink():
            mounts += ["--symlink", os.readlink(path), folder]
        elif path.is_dir():
            mounts += ["--ro-bind", folder, folder]
            bound.append(folder)
    made: set[str] = set()
    for keep in [*SYSTEM_FILES, *python_paths()]:
        if keep == "/" or not os.path.exists(keep) or _under(keep, bound):
            continue
        # bubblewrap makes missing mount-point parents 0700; the sandbox user must traverse them.
        parents = [str(p) for p in reversed(Path(keep).parents) if str(p) != "/"]
        for parent in parents:
            if parent not in made and not _under(parent, bound):
                mounts += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        mounts += ["--ro-bind", keep, keep]
        bound.append(keep)
    env: list[str] = []
    for name, value in render_env(work).items():
        env += ["--setenv", name, value]
    return [
        shutil.which("bwrap") or "bwrap",
        "--clearenv",
        *env,
        *mounts,
        "--bind", str(workdir.resolve()), work,
        "--remount-ro", "/",
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--hostname", "sandbox",
        "--die-with-parent", "--new-session",
        "--chdir", work,
        "--",
        *cmd,
    ]  # fmt: skip


def limits_preexec(limits: Limits) -> Callable[[], None]:
    """Runs in the child before exec: the rlimits, inherited by bubblewrap and the render. The
    drop to the sandbox user happens inside bubblewrap (setpriv), after it has set up mounts."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def prepare_workdir(workdir: Path, user: tuple[int, int] | None) -> None:
    """The work folder belongs to the sandbox user, so it can write there and nowhere else."""
    workdir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, *user)


def explain_exit(
    returncode: int, output: str, limits: Limits, workdir: Path | None = None
) -> str | None:
    """Which limit stopped the process, when one did."""
    import signal

    # Python ignores SIGXFSZ, so a capped write fails with EFBIG or a short write: look for a
    # file that reached the cap.
    if workdir is not None and any(
        p.is_file() and p.stat().st_size >= limits.file_bytes for p in workdir.rglob("*")
    ):
        return f"file size limit ({limits.file_bytes // 1024**2} MiB) exceeded"
    if returncode == -signal.SIGXCPU or returncode == 128 + signal.SIGXCPU:
        return f"CPU time limit ({limits.cpu_seconds} s) exceeded"
    if (
        returncode == -signal.SIGXFSZ
        or returncode == 128 + signal.SIGXFSZ
        or "File too large" in output
    ):
        return f"file size limit ({limits.file_bytes // 1024**2} MiB) exceeded"
    if "MemoryError" in output or "Cannot allocate memory" in output or "std::bad_alloc" in output:
        return f"memory limit ({limits.memory_bytes // 1024**2} MiB) exceeded"
    if "Resource temporarily unavailable" in output and (
        "fork" in output or "BlockingIOError" in output
    ):
        return f"process limit ({limits.processes}) reached"
    if "Network is unreachable" in output or "Temporary failure in name resolution" in output:
        return "network access is blocked in the sandbox"
    if "Read-only file system" in output or "Permission denied" in output:
        return "writing outside the work folder is blocked in the sandbox"
    return None
