"""Where a video's prompt comes from, in this order: --prompt; --prompts FILE; a sidecar <video>.txt;
VBench's file naming <prompt>-<index>.mp4."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from ..errors import EvsError, read_text

_VBENCH_NAME = re.compile(r"^(?P<prompt>.+)-(?P<index>\d+)$")
_SURROGATE = re.compile("[\ud800-\udfff]")  # one per byte of a name that is not UTF-8, or from a JSON "\\ud800"


def load_prompt_table(path: Path) -> dict[str, str]:
    """name -> prompt from a JSON object, VBench's prompt-list JSON or plain list (.txt, one prompt a line,
    matched through the videos' <prompt>-<index> names), or a CSV/TSV of name, prompt."""
    path = Path(path)
    text = read_text(path, "the prompts file")
    if not text.strip():
        raise EvsError(f"{path}: the prompts file is empty")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise EvsError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items()}
        if isinstance(data, list):  # VBench: [{"prompt_en": ..., "dimension": [...]}, ...] or plain strings
            out = {}
            for item in data:
                p = item.get("prompt_en") or item.get("prompt") if isinstance(item, dict) else item
                if isinstance(p, str):
                    out[p] = p
            return out
        raise EvsError(f"{path}: expected a JSON object of name -> prompt or a VBench prompt list")
    if path.suffix.lower() == ".txt":  # VBench's plain lists (all_dimension.txt): one prompt a line
        return {line.strip(): line.strip() for line in text.splitlines() if line.strip()}
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" or "\t" in text.splitlines()[0] else "excel"
    reader = csv.reader(text.splitlines(), dialect=dialect)
    rows = [(reader.line_num, r) for r in reader if r]  # the file's own line numbers, blank lines counted
    if rows and [c.strip().lower() for c in rows[0][1][:2]] in (["name", "prompt"], ["file", "prompt"],
                                                                ["video", "prompt"]):
        rows = rows[1:]
    bad = [line for line, r in rows if len(r) < 2]
    if bad:
        raise EvsError(f"{path}: line {bad[0]} needs two columns: name, prompt")
    return {r[0].strip(): r[1].strip() for _, r in rows}


def _keys(video: Path, rel: Path) -> list[str]:
    native = str(rel)  # pragma: no mutate (the same key as as_posix() but on Windows, where tables may use \)
    keys = [native, rel.as_posix(), video.name, video.stem]
    m = _VBENCH_NAME.match(video.stem)
    if m:
        keys.append(m["prompt"])
    return keys


def resolve_prompt(video: Path, rel: Path, prompt: str | None = None, table: dict[str, str] | None = None) -> tuple[str, str]:
    """(prompt, where it came from) or EvsError naming the video. Always text a tokenizer takes: see `readable`."""
    return readable(*_find_prompt(video, rel, prompt, table))


def readable(prompt: str, source: str) -> tuple[str, str]:
    """A prompt from a file name or the command line holds the bytes that were not UTF-8 as lone surrogates
    (Python's reading of such names), which no tokenizer takes: they become U+FFFD, and the source says so."""
    fixed = _SURROGATE.sub("\ufffd", prompt)
    if fixed == prompt:
        return prompt, source
    return fixed, f"{source} (bytes that are not UTF-8 replaced by U+FFFD)"


def _find_prompt(video: Path, rel: Path, prompt: str | None, table: dict[str, str] | None) -> tuple[str, str]:
    if prompt:
        return prompt, "--prompt"
    if table:
        for k in _keys(video, rel):
            if k in table:
                return table[k], "--prompts"
    for side in (video.with_name(video.name + ".txt"), video.with_suffix(".txt")):
        if side.is_file():
            text = read_text(side, "the prompt sidecar").strip()
            if text:
                return text, side.name
    m = _VBENCH_NAME.match(video.stem)
    if m:
        return m["prompt"], "file name"
    raise EvsError(f"{video}: no prompt (pass --prompt or --prompts FILE, add {video.name}.txt, "
                   "or name it <prompt>-<index>.mp4)")
