"""Untrusted scene code: a static check before it runs, and confinement while it runs.

Static check (`check_code`): the code must parse; it may import only what a Manim scene needs; it
may not name dangerous builtins (`__import__`, `eval`, `exec`, `open`, `getattr`...), dunder
attributes or names (other than `__init__`), or reach modules through attributes (`utils.os`).
Every violation is listed with its line number.

Confinement (`confined_command` + `limits_preexec`), because a static check can be fooled:
- bubblewrap: read-only view of the system, write access only to the work folder (plus a
  private /tmp), no network (own network namespace: only its own loopback), own PID namespace,
  the user's home hidden, killed with its parent;
- runs as an unprivileged user (nobody), in its own session/process group;
- rlimits: CPU seconds, address space (memory), largest file written, number of processes;
- the caller enforces wall-clock time and kills the whole process group.
Not enforced: reading world-readable files of the system (read-only), CPU share between
concurrent renders, and disk use by the number of files (only each file's size is capped).
"""

from __future__ import annotations

import ast
import os
import pwd
import resource
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ALLOWED_IMPORTS = {
    "manim", "numpy", "math", "random", "itertools", "functools", "collections", "typing",
    "dataclasses", "enum", "fractions", "decimal", "statistics", "string", "colorsys", "__future__",
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
                out.append(Violation(line, f"access to dunder attribute {node.attr!r} is not allowed"))
            elif node.attr in FORBIDDEN_ATTRIBUTES:
                out.append(Violation(line, f"access to attribute {node.attr!r} is not allowed"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "__" in node.value:
            if any(part.startswith("__") or part.endswith("__") for part in node.value.split(".")):
                out.append(Violation(line, f"string {node.value[:40]!r} names a dunder"))
        elif isinstance(node, ast.Global | ast.Nonlocal):
            out.append(Violation(line, "global/nonlocal statements are not allowed"))
    return sorted(set(out), key=lambda v: (v.line, v.message))


def require_safe(code: str) -> None:
    violations = check_code(code)
    if violations:
        raise UnsafeCodeError(violations)


# --- confinement ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 600
    memory_bytes: int = 6 * 1024**3  # address space: Manim + numpy + cairo map a lot
    file_bytes: int = 1024**3
    processes: int = 256  # counted per user; the sandbox user is `nobody`


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


def confined_command(cmd: list[str], workdir: Path, keep_visible: list[str] = ()) -> list[str]:
    """`cmd` wrapped in bubblewrap: read-only system, the work folder writable at INNER_WORKDIR,
    no network, home folders hidden (except `keep_visible` paths, such as the Python install)."""
    work = INNER_WORKDIR
    hidden = ["/tmp"] + [h for h in ("/root", "/home") if Path(h).is_dir()]
    mounts = []
    for folder in hidden:
        mounts += ["--tmpfs", folder]
    # The interpreter and its virtualenv may live below a hidden folder (a checkout in /tmp, a
    # pyenv in /root): those paths come back read-only.
    for keep in sorted(set(keep_visible)):
        root = next((h for h in hidden if keep.startswith(h + "/")), None)
        if root is None:
            continue
        # bubblewrap makes missing mount-point parents 0700; the sandbox user must traverse them.
        parent = Path(keep).parent
        parents = []
        while str(parent) != root:
            parents.append(str(parent))
            parent = parent.parent
        for p in reversed(parents):
            mounts += ["--perms", "0755", "--dir", p]
        mounts += ["--ro-bind", keep, keep]
    return [
        "bwrap",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        *mounts,
        "--bind", str(workdir.resolve()), work,
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--die-with-parent", "--new-session",
        "--chdir", work,
        "--setenv", "HOME", work,
        "--setenv", "TMPDIR", "/tmp",
        "--setenv", "XDG_CACHE_HOME", f"{work}/.cache",
        "--setenv", "MPLCONFIGDIR", f"{work}/.cache",
        "--",
        *cmd,
    ]


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


def explain_exit(returncode: int, output: str, limits: Limits, workdir: Path | None = None) -> str | None:
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
    if returncode == -signal.SIGXFSZ or returncode == 128 + signal.SIGXFSZ or "File too large" in output:
        return f"file size limit ({limits.file_bytes // 1024**2} MiB) exceeded"
    if "MemoryError" in output or "Cannot allocate memory" in output or "std::bad_alloc" in output:
        return f"memory limit ({limits.memory_bytes // 1024**2} MiB) exceeded"
    if "Resource temporarily unavailable" in output and ("fork" in output or "BlockingIOError" in output):
        return f"process limit ({limits.processes}) reached"
    if "Network is unreachable" in output or "Temporary failure in name resolution" in output:
        return "network access is blocked in the sandbox"
    if "Read-only file system" in output or "Permission denied" in output:
        return "writing outside the work folder is blocked in the sandbox"
    return None
