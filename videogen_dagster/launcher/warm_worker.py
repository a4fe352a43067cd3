"""A warm run-worker parent: imports Dagster and the code location once, then forks one child per
run, so a run starts in ~0.1 s instead of paying a fresh interpreter's imports (~1.4 s here).

Started and used by `videogen_dagster.launcher.WarmRunLauncher`; not meant to be run by hand.
The protocol is one JSON request per connection on a Unix socket:
  {"run_id": ..., "instance_ref": <serialized InstanceRef>, "cwd": ...}
answered with {"pid": ..., "started": ...} or {"error": ...}.

Rules that keep forking safe: this process never starts a thread and never opens the Dagster
instance (each child opens its own). It exits when its parent (the launcher's process) goes
away, or when a module it preloaded changed on disk (the launcher then starts a fresh one), so a
run never executes stale code. Running children live on in their own sessions either way.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import random
import select
import signal
import socket
import sys
import traceback
from pathlib import Path

MAX_REQUEST = 1 << 20


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (with the pid, it names one process);
    None when there is no such process or it has exited (a zombie nobody reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def _own_module_files() -> dict[str, float]:
    """Files of the loaded modules that are not part of the interpreter or its site-packages:
    the code location's own code, whose changes must reach new runs."""
    prefixes = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
    files = {}
    for mod in list(sys.modules.values()):
        path = getattr(mod, "__file__", None)
        if not path:
            continue
        real = os.path.realpath(path)
        if real.startswith(prefixes) or "site-packages" in real:
            continue
        try:
            files[real] = os.stat(real).st_mtime
        except OSError:
            continue
    return files


def _changed(snapshot: dict[str, float]) -> str | None:
    for path, mtime in snapshot.items():
        try:
            if os.stat(path).st_mtime != mtime:
                return path
        except OSError:
            return path
    return None


def recv_json(conn: socket.socket) -> dict:
    """One newline-terminated JSON message (the protocol of both ends)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too large")
    return json.loads(data)


def send_json(conn: socket.socket, body: dict) -> None:
    conn.sendall(json.dumps(body).encode() + b"\n")


def _run_child(req: dict) -> None:
    """In the forked child: execute the run exactly as `dagster api execute_run` does."""
    code = 1
    try:
        os.setsid()  # a signal to the launcher's process group must not reach runs
        random.seed()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        if req.get("cwd"):
            os.chdir(req["cwd"])
        from dagster import DagsterInstance
        from dagster._cli.api import _execute_run_command_body
        from dagster._core.instance.ref import InstanceRef
        from dagster._serdes import deserialize_value
        from dagster._utils.interrupts import setup_interrupt_handlers

        setup_interrupt_handlers()  # SIGTERM (the launcher's terminate) interrupts like Ctrl-C
        ref = deserialize_value(req["instance_ref"], InstanceRef)
        with DagsterInstance.from_ref(ref) as instance:
            # Exit 0 when the run ended, failed or not (its end is in the event log); non-zero
            # only when the worker itself broke, which `_reap` then reports.
            code = _execute_run_command_body(req["run_id"], instance, lambda _event: None, False)
            # A slot is free: a run queued behind this one starts now, not at the queue's tick.
            from videogen_dagster.launcher import queue_wake

            queue_wake.ring(queue_wake.instance_home(instance))
    except BaseException:  # noqa: BLE001 - the child must always reach os._exit
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _report_exit(req: dict, status: int) -> None:
    """In a forked helper: fail the run if its worker died before the run finished."""
    try:
        from dagster import DagsterInstance
        from dagster._core.instance.ref import InstanceRef
        from dagster._serdes import deserialize_value

        if os.WIFSIGNALED(status):
            how = f"was killed by signal {os.WTERMSIG(status)}"
        else:
            how = f"exited with code {os.WEXITSTATUS(status)}"
        with DagsterInstance.from_ref(deserialize_value(req["instance_ref"], InstanceRef)) as instance:
            run = instance.get_run_by_id(req["run_id"])
            if run is not None and not run.is_finished:
                instance.report_run_failed(run, f"Run worker (pid {req.get('pid')}) {how} before the run finished.")
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    finally:
        os._exit(0)


def _reap(children: dict[int, dict]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        req = children.pop(pid, None)
        if req is not None and status != 0:
            if os.fork() == 0:
                _report_exit(req, status)


def _preload_instance_classes(ref_file: str) -> None:
    """Import the instance's storage, compute-log and launcher classes now, not in each child:
    with SQLAlchemy and Alembic they were most of a warm child's start-up (~0.8 s measured)."""
    from dagster._core.instance.ref import InstanceRef
    from dagster._serdes import ConfigurableClassData, deserialize_value

    ref = deserialize_value(Path(ref_file).read_text(), InstanceRef)
    for field in ref._fields:
        data = getattr(ref, field)
        if isinstance(data, ConfigurableClassData):
            getattr(importlib.import_module(data.module_name), data.class_name)


def serve(sock_path: str, preload: list[str], ref_file: str | None = None) -> int:
    for name in preload:
        importlib.import_module(name)
    if ref_file:
        _preload_instance_classes(ref_file)
    # Everything loaded so far lives as long as this process: out of the garbage collector's
    # sight (gc.freeze), a child's collections no longer walk the ~200,000 inherited objects.
    # Walking them cost each run 150-175 ms and touched every page (copy-on-write), measured.
    gc.collect()
    gc.freeze()
    snapshot = _own_module_files()
    parent = os.getppid()
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # The launcher waits for the socket's path to appear: it appears only once listening (bound
    # under another name, then renamed), or a connect in between is refused (seen under load).
    srv.bind(sock_path + ".binding")
    srv.listen(64)
    os.rename(sock_path + ".binding", sock_path)
    children: dict[int, dict] = {}
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the launcher's process decides when we stop
    print(f"warm worker {os.getpid()} ready on {sock_path} ({len(snapshot)} own module files watched)", file=sys.stderr)
    while os.getppid() == parent:
        ready, _, _ = select.select([srv], [], [], 0.5)
        _reap(children)
        if not ready:
            continue
        conn, _ = srv.accept()
        with conn:
            try:
                req = recv_json(conn)
            except (OSError, ValueError) as exc:
                send_json(conn, {"error": f"bad request: {exc}"})
                continue
            stale = _changed(snapshot)
            if stale:
                send_json(conn, {"error": "stale", "changed": stale})
                break
            pid = os.fork()
            if pid == 0:
                srv.close()
                conn.close()
                _run_child(req)
            children[pid] = {**req, "pid": pid}
            send_json(conn, {"pid": pid, "started": process_start(pid)})
    srv.close()
    try:
        os.unlink(sock_path)
    except OSError:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--preload", action="append", default=[])
    parser.add_argument("--instance-ref", help="file holding the serialized InstanceRef whose classes to preload")
    args = parser.parse_args(argv)
    return serve(args.socket, args.preload, args.instance_ref)


if __name__ == "__main__":
    sys.exit(main())
