"""Batch generation: files of generate requests dropped into the object store, and topic lists.

A batch file is JSON Lines (one request per line) or YAML (a list of requests, or `{requests: [...]}`),
with the spec's request fields. Layout in the object store:

    batches/incoming/<name>        dropped here (by a person, an app or the nightly schedule)
    batches/running/<name>         picked up: its videos are queued
    batches/done/<name>            finished, with <name>.summary.json beside it
    batches/failed/<name>          not a batch at all, with <name>.error.txt beside it

A batch's id is derived from its content (sha256), so the same file dropped twice is recognised
and not generated twice; task and session ids are derived from the batch id and the line number,
so evaluating the same file again registers nothing new.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date

import yaml
from pydantic import ValidationError

from videogen_dagster.models import GenerateRequest, format_validation_error
from videogen_dagster.pipeline import task_result
from videogen_dagster.stores.metastore import Batch, BatchEntry, MetadataStore, Task, TaskStatus
from videogen_dagster.stores.objectstore import StoreConfig, move

INCOMING, RUNNING, DONE, FAILED = "batches/incoming/", "batches/running/", "batches/done/", "batches/failed/"
MAX_ENTRIES = 500


class NotABatch(ValueError):
    pass


@dataclass
class Entry:
    line: int
    request: GenerateRequest | None = None
    error: str | None = None
    task_id: str | None = None


@dataclass
class ParsedBatch:
    batch_id: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def valid(self) -> list[Entry]:
        return [e for e in self.entries if e.request is not None]


def batch_id_for(data: bytes) -> str:
    return "b" + hashlib.sha256(data).hexdigest()[:15]


def _raw_entries(name: str, text: str) -> list[tuple[int, object | Exception]]:
    if name.endswith((".yaml", ".yml")):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise NotABatch(f"not valid YAML: {exc}") from None
        if isinstance(doc, dict) and isinstance(doc.get("requests"), list):
            doc = doc["requests"]
        if not isinstance(doc, list):
            raise NotABatch("a YAML batch is a list of requests (or {requests: [...]})")
        return [(i, item) for i, item in enumerate(doc, 1)]
    out: list[tuple[int, object | Exception]] = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            out.append((i, json.loads(line)))
        except json.JSONDecodeError as exc:
            out.append((i, exc))
    if out and all(isinstance(v, Exception) for _, v in out):
        raise NotABatch("no line is JSON: a batch is JSON Lines (.jsonl) or YAML (.yaml)")
    return out


def parse_batch(name: str, data: bytes) -> ParsedBatch:
    """Every entry with its request or the reason it was refused (line number included)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotABatch("the file is not UTF-8 text") from None
    raw = _raw_entries(name, text)
    if not raw:
        raise NotABatch("the file holds no requests")
    if len(raw) > MAX_ENTRIES:
        raise NotABatch(f"{len(raw)} requests; a batch holds at most {MAX_ENTRIES}")
    batch = ParsedBatch(batch_id_for(data))
    for line, item in raw:
        if isinstance(item, Exception):
            batch.entries.append(Entry(line, error=f"line {line}: not JSON: {item}"))
            continue
        if not isinstance(item, dict):
            batch.entries.append(Entry(line, error=f"line {line}: a request is an object, got {type(item).__name__}"))
            continue
        item = {**item}
        item.setdefault("session_id", f"{batch.batch_id}_{line}")
        try:
            request = GenerateRequest.model_validate(item)
        except ValidationError as exc:
            batch.entries.append(Entry(line, error=f"line {line}: {format_validation_error(exc)}"))
            continue
        batch.entries.append(Entry(line, request=request, task_id=f"{batch.batch_id}-{line}"))
    return batch


def summary(
    batch_id: str, name: str, entries: list[BatchEntry], tasks: dict[str, Task], results: dict[str, dict]
) -> dict:
    """Per entry: task id, status, and the video URL or the error (the summary file's JSON)."""
    rows = []
    counts: dict[str, int] = {}
    for e in entries:
        task = tasks.get(e.task_id or "")
        status = str(task.status) if task else "rejected"
        row: dict = {"line": e.line, "task_id": e.task_id, "status": status}
        if task and task.status == TaskStatus.COMPLETED:
            row["video_url"] = (results.get(task.task_id) or {}).get("s3_combined_video_url")
        else:
            row["error"] = (task and task.error) or e.error
        rows.append(row)
        counts[status] = counts.get(status, 0) + 1
    return {"batch_id": batch_id, "file": name, "counts": counts, "entries": rows}


def topics_batch(topics: list[dict], day: date, size: int, scene_count: int, quality: str, project_id: str) -> bytes:
    """A JSON Lines batch of `size` topics for `day`, rotating through the list day by day.

    Topics are TheoremExplainBench items ({"theorem", "description"}) or {"prompt": ...}."""
    if not topics:
        raise ValueError("the topic list is empty")
    start = (day.toordinal() * size) % len(topics)
    lines = []
    for i in range(min(size, len(topics))):
        t = topics[(start + i) % len(topics)]
        prompt = t.get("prompt") or f"Explain {t['theorem']}. {t.get('description', '')}"
        lines.append(json.dumps({
            "project_id": project_id, "content_prompt": prompt[:3900], "scene_count": scene_count,
            "session_id": f"{day.isoformat().replace('-', '')}_{i + 1}",
            "render_config": {"quality": quality},
        }))
    return ("\n".join(lines) + "\n").encode()


def batch_tasks(meta: MetadataStore, b: Batch) -> dict[str, Task | None]:
    """The batch's tasks by id (None: a task the store does not have)."""
    return {tid: meta.get_task(tid) for tid in b.task_ids}


def finish_batch_if_done(meta: MetadataStore, stores: StoreConfig, b: Batch) -> dict | None:
    """Write the summary of a batch whose tasks have all ended (for files: beside it in done/)."""
    found = batch_tasks(meta, b)
    tasks = {tid: t for tid, t in found.items() if t is not None and t.finished}
    if len(tasks) != len(found):
        return None
    results = {
        tid: task_result(meta, stores, t) for tid, t in tasks.items() if t.status == TaskStatus.COMPLETED
    }
    report = summary(b.batch_id, b.name, b.entries, tasks, results)
    if b.source == "file":
        store = stores.store_for(None)
        store.put_bytes(f"{DONE}{b.name}.summary.json", json.dumps(report, indent=2).encode())
        if store.exists(f"{RUNNING}{b.name}"):
            move(store, f"{RUNNING}{b.name}", f"{DONE}{b.name}")
    meta.finish_batch(b.batch_id, report)
    return report
