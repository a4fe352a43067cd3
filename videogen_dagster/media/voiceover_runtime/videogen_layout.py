"""Layout inspector: Manim's command line with a look at the frame after every animation.

Copied next to the scene's code before a render and started instead of Manim, with the same
arguments: `python -m videogen_layout render ... scene.py SceneClass`. It wraps `Scene.play`
(`Scene.wait` and `Scene.pause` go through it) and, when each animation has finished, looks at the
text on screen (Text, MarkupText, Paragraph, MathTex, Tex, DecimalNumber...):

- out_of_frame: text that reaches into the safe margin or past the frame's edge;
- overlap: two texts whose boxes intersect by more than a tolerance in both directions;
- too_small: a capital letter under `min_glyph_px` pixels high at the render's pixel height;
- low_contrast: text colour against what is behind it (the background, or a filled shape
  drawn before it) under the WCAG contrast ratio `min_contrast`.

A finding seen after consecutive animations is one record (first and last time, count). At exit
the records go to `layout_findings.json` beside this file; the pipeline reads it back, checked
(`videogen_dagster/media/layout.py`). This file runs in the sandbox, in the same process as the
untrusted scene code, which could change or forge what it writes: its findings are advice about
the video, never a permission. Thresholds come from `layout_config.json` beside it. Imports only
the standard library, numpy and manim (what the sandbox has).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
FINDINGS = _HERE / "layout_findings.json"
CONFIG = _HERE / "layout_config.json"

SETTINGS: dict[str, float] = {
    "margin": 0.2,  # units kept clear inside each edge of the frame
    "min_glyph_px": 14.0,  # height of a capital letter, in pixels of the output
    "min_contrast": 3.0,  # WCAG contrast ratio (3:1: large text)
    "overlap_tolerance": 0.05,  # units two boxes may intersect by (kerning, touching lines)
    "max_findings": 200,
    "max_units": 1500,  # text mobjects looked at per animation
}
# Height of a capital letter per point of font_size, measured on manim 0.22 (Text "H" at
# font_size 48 is 0.486 units high, MathTex "H" 0.340): Pango and LaTeX scale differently.
CAP_PER_POINT_PANGO = 0.4859 / 48
CAP_PER_POINT_TEX = 0.3402 / 48
VISIBLE = 0.02  # opacity under which a part counts as invisible

_state: dict[str, Any] = {
    "checks": 0,
    "errors": 0,
    "seconds": 0.0,  # spent looking (the inspector's own cost)
    "first_error": "",
    "dropped": 0,
    "records": [],
    "open": {},  # key -> record, for findings seen in the previous check
    "pixel_height": 0,
    "frame_height": 0.0,
}


def _load_settings() -> None:
    try:
        data = json.loads(CONFIG.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(data, dict):
        for name, value in data.items():
            if name in SETTINGS and isinstance(value, int | float) and math.isfinite(value):
                SETTINGS[name] = float(value)


# --- what is on screen ---------------------------------------------------------------------------


def _text_classes() -> tuple[type, ...]:
    from manim import DecimalNumber, MarkupText, Paragraph, SingleStringMathTex, Text

    return (Text, MarkupText, Paragraph, SingleStringMathTex, DecimalNumber)


def _label(mob: Any) -> str:
    """What the text says, as the scene wrote it."""
    for attr in ("original_text", "tex_string"):
        value = getattr(mob, attr, None)
        if isinstance(value, str):
            return " ".join(value.split())[:120]
    lines = getattr(mob, "lines_text", None)  # Paragraph
    if lines is not None and isinstance(getattr(lines, "original_text", None), str):
        return " / ".join(lines.original_text.splitlines())[:120]
    number = getattr(mob, "number", None)
    if isinstance(number, int | float | complex):
        return str(number)[:40]
    return ""


def _alpha(rgbas: Any) -> float:
    arr = np.asarray(rgbas, dtype=float)
    return float(arr[:, 3].max()) if arr.ndim == 2 and len(arr) else 0.0


def _paint(part: Any) -> tuple[np.ndarray, float] | None:
    """The colour (rgb) and opacity a part is drawn with: its fill, or its stroke."""
    fill = getattr(part, "fill_rgbas", None)
    if fill is not None and _alpha(fill) > VISIBLE:
        arr = np.asarray(fill, dtype=float)
        return arr[0, :3], _alpha(fill)
    stroke = getattr(part, "stroke_rgbas", None)
    width = float(getattr(part, "stroke_width", None) or 0.0)
    if stroke is not None and width > 0 and _alpha(stroke) > VISIBLE:
        arr = np.asarray(stroke, dtype=float)
        return arr[0, :3], _alpha(stroke)
    return None


def _walk(mob: Any, texts: tuple[type, ...], units: list, fills: list, seen: set) -> None:
    """Text mobjects (outermost only: a text's own parts are never compared with it) and the
    filled shapes drawn before them, in drawing order."""
    if id(mob) in seen:
        return
    seen.add(id(mob))
    if isinstance(mob, texts):
        units.append((len(fills), mob))
        return
    if len(getattr(mob, "points", ())) > 2:
        fill = getattr(mob, "fill_rgbas", None)
        if fill is not None and _alpha(fill) >= 0.5:
            box = _box(mob.points)
            if box is not None:
                fills.append((box, np.asarray(fill, dtype=float)[0, :3], _alpha(fill)))
    for sub in mob.submobjects:
        _walk(sub, texts, units, fills, seen)


def _box(points: Any) -> np.ndarray | None:
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or not len(pts):
        return None
    return np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()])


def _visible_parts(mob: Any) -> list[tuple[Any, np.ndarray, float]]:
    out = []
    for part in mob.family_members_with_points():
        paint = _paint(part)
        if paint is not None:
            out.append((part, *paint))
    return out


def _cap_height(mob: Any) -> float | None:
    """The height of a capital letter of this text, in scene units, from its font size (which
    follows any scaling since it was made)."""
    from manim import MarkupText, Paragraph, Text

    try:
        if isinstance(mob, Paragraph):
            return float(mob.lines_text.font_size) * CAP_PER_POINT_PANGO
        size = float(mob.font_size)
    except Exception:
        return None
    if not math.isfinite(size) or size <= 0:
        return None
    pango = isinstance(mob, Text | MarkupText)
    return size * (CAP_PER_POINT_PANGO if pango else CAP_PER_POINT_TEX)


def _luminance(rgb: np.ndarray) -> float:
    c = np.clip(rgb, 0.0, 1.0)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2])


def _contrast(a: np.ndarray, b: np.ndarray) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _hex(rgb: np.ndarray) -> str:
    r, g, b = (int(round(float(v) * 255)) for v in np.clip(rgb, 0.0, 1.0))
    return f"#{r:02x}{g:02x}{b:02x}"


def _frame(scene: Any) -> tuple[float, float, float, float, int] | None:
    """(x_min, y_min, x_max, y_max, pixel_height) of what the camera shows; None for 3D."""
    from manim import ThreeDCamera

    camera = scene.camera
    if isinstance(camera, ThreeDCamera):
        return None
    frame = getattr(camera, "frame", None)  # MovingCamera
    if frame is not None:
        cx, cy = frame.get_center()[:2]
        w, h = frame.width, frame.height
    else:
        cx, cy = np.asarray(camera.frame_center, dtype=float)[:2]
        w, h = camera.frame_width, camera.frame_height
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, int(camera.pixel_height)


# --- one look at the frame -----------------------------------------------------------------------


def inspect(scene: Any) -> list[dict[str, Any]] | None:
    """The findings in the scene as it is now (each with a `key` that identifies it); None when
    the scene cannot be looked at this way (a 3D camera)."""
    from manim import ManimColor

    frame = _frame(scene)
    if frame is None:
        return None
    fx0, fy0, fx1, fy1, pixel_height = frame
    frame_height = fy1 - fy0
    _state["pixel_height"], _state["frame_height"] = pixel_height, frame_height
    texts = _text_classes()
    raw: list[tuple[int, Any]] = []
    fills: list[tuple[np.ndarray, np.ndarray, float]] = []
    seen: set[int] = set()
    for mob in scene.mobjects:
        _walk(mob, texts, raw, fills, seen)
    background = np.asarray(ManimColor(scene.camera.background_color).to_rgb(), dtype=float)
    margin = SETTINGS["margin"]
    units = []
    for fill_count, mob in raw[: int(SETTINGS["max_units"])]:
        parts = _visible_parts(mob)
        if not parts:
            continue
        box = _box(np.concatenate([p.points for p, _, _ in parts]))
        if box is None or (box[2] - box[0] <= 0 and box[3] - box[1] <= 0):
            continue
        # Text wholly outside the frame is not seen (a mobject staged off-screen): skipped.
        if box[2] > fx0 and box[0] < fx1 and box[3] > fy0 and box[1] < fy1:
            units.append((mob, box, parts, fill_count))
    found: list[dict[str, Any]] = []
    for mob, box, parts, fill_count in units:
        base = {"mobject": type(mob).__name__, "text": _label(mob)}
        x0, y0, x1, y1 = box
        edges = {
            "left": (fx0 + margin) - x0,
            "right": x1 - (fx1 - margin),
            "bottom": (fy0 + margin) - y0,
            "top": y1 - (fy1 - margin),
        }
        edge, amount = max(edges.items(), key=lambda kv: kv[1])
        if amount > 0.005:
            past = max(fx0 - x0, x1 - fx1, fy0 - y0, y1 - fy1, 0.0)
            found.append(
                {
                    **base,
                    "kind": "out_of_frame",
                    "limit": SETTINGS["margin"],
                    "key": ("out_of_frame", id(mob)),
                    "amount": round(amount, 3),
                    "past_edge": round(past, 3),
                    "edge": edge,
                }
            )
        cap = _cap_height(mob)
        if cap is not None and frame_height > 0:
            px = cap / frame_height * pixel_height
            if px < SETTINGS["min_glyph_px"]:
                found.append(
                    {
                        **base,
                        "kind": "too_small",
                        "limit": SETTINGS["min_glyph_px"],
                        "key": ("too_small", id(mob)),
                        "amount": round(px, 1),
                        "pixel_height": pixel_height,
                    }
                )
        behind_rgb = _behind(box, fills[:fill_count], background)
        worst: tuple[float, np.ndarray] | None = None
        paints = {(*np.round(rgb, 3), round(alpha, 3)) for _, rgb, alpha in parts}
        for r, g, b, alpha in paints:  # glyphs mostly share one colour
            shown = alpha * np.array([r, g, b]) + (1 - alpha) * behind_rgb  # faded text blends in
            ratio = _contrast(shown, behind_rgb)
            if worst is None or ratio < worst[0]:
                worst = (ratio, shown)
        if worst is not None and worst[0] < SETTINGS["min_contrast"]:
            found.append(
                {
                    **base,
                    "kind": "low_contrast",
                    "limit": SETTINGS["min_contrast"],
                    "key": ("low_contrast", id(mob)),
                    "amount": round(worst[0], 2),
                    "color": _hex(worst[1]),
                    "background": _hex(behind_rgb),
                }
            )
    found += _overlaps(units)
    return found


def _behind(box: np.ndarray, fills: list, background: np.ndarray) -> np.ndarray:
    """The colour behind a text: the last filled shape drawn before it that covers its centre
    and is at least as large, else the background."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    area = (box[2] - box[0]) * (box[3] - box[1])
    for fbox, rgb, alpha in reversed(fills):
        if (
            fbox[0] <= cx <= fbox[2]
            and fbox[1] <= cy <= fbox[3]
            and (fbox[2] - fbox[0]) * (fbox[3] - fbox[1]) >= area
        ):
            return alpha * rgb + (1 - alpha) * background
    return background


def _overlaps(units: list) -> list[dict[str, Any]]:
    if len(units) < 2:
        return []
    boxes = np.array([u[1] for u in units])
    tol = SETTINGS["overlap_tolerance"]
    dx = np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(
        boxes[:, None, 0], boxes[None, :, 0]
    )
    dy = np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(
        boxes[:, None, 1], boxes[None, :, 1]
    )
    hits = np.argwhere(np.triu((dx > tol) & (dy > tol), k=1))
    out = []
    for i, j in hits:
        a, b = units[i][0], units[j][0]
        out.append(
            {
                "kind": "overlap",
                "limit": SETTINGS["overlap_tolerance"],
                "key": ("overlap", id(a), id(b)),
                "mobject": type(a).__name__,
                "text": _label(a),
                "other_mobject": type(b).__name__,
                "other_text": _label(b),
                "amount": round(float(min(dx[i, j], dy[i, j])), 3),
            }
        )
    return out


# --- the record across animations ---------------------------------------------------------------


def record(scene: Any) -> None:
    """Look at the frame now; merge with what the previous look saw."""
    now = float(getattr(scene.renderer, "time", 0.0))
    started = time.perf_counter()
    try:
        current = inspect(scene)
    except Exception as exc:  # the inspector must never break a render
        _state["checks"] += 1
        _state["errors"] += 1
        _state["first_error"] = _state["first_error"] or f"{type(exc).__name__}: {exc}"[:300]
        return
    finally:
        _state["seconds"] += time.perf_counter() - started
    if current is None:
        return  # not looked at: not counted
    _state["checks"] += 1
    still_open: dict[Any, dict[str, Any]] = {}
    for finding in current:
        # The texts too: an id can be reused by a new mobject once the old one is gone.
        key = (*finding.pop("key"), finding.get("text"), finding.get("other_text"))
        rec = _state["open"].get(key)
        if rec is not None:
            rec["count"] += 1
            rec["until"] = round(now, 3)
            if finding["kind"] in ("low_contrast", "too_small"):
                rec["amount"] = min(rec["amount"], finding["amount"])
            else:
                rec["amount"] = max(rec["amount"], finding["amount"])
        elif len(_state["records"]) < SETTINGS["max_findings"]:
            rec = {**finding, "time": round(now, 3), "until": round(now, 3), "count": 1}
            _state["records"].append(rec)
        else:
            _state["dropped"] += 1
            continue
        still_open[key] = rec
    _state["open"] = still_open


def install() -> None:
    """Wrap Scene.play so that every finished animation is looked at."""
    from manim import Scene

    original = Scene.play

    def play(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        record(self)

    play.__wrapped__ = original  # type: ignore[attr-defined]
    Scene.play = play  # type: ignore[method-assign]


def write() -> None:
    report = {
        "version": 1,
        "checks": _state["checks"],
        "errors": _state["errors"],
        "seconds": round(_state["seconds"], 4),
        "first_error": _state["first_error"],
        "dropped": _state["dropped"],
        "pixel_height": _state["pixel_height"],
        "frame_height": _state["frame_height"],
        "findings": _state["records"],
    }
    tmp = FINDINGS.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(report), encoding="utf-8")
        os.replace(tmp, FINDINGS)
    except OSError:
        pass


def main() -> None:
    import videogen_encoder  # beside this file: Manim's encoder with less work per frame

    _load_settings()
    videogen_encoder.install()
    install()
    try:
        videogen_encoder.run_manim()
    finally:
        write()


if __name__ == "__main__":
    main()
