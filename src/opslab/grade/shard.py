"""Grading across machines: ``opslab grade ... --shard K/N`` grades one N-th of the submissions, and
``opslab gradebook SHARD_DIR... --out OUT`` merges the shards into the gradebook and feedback folder a
single machine would have written. Each shard's folder holds ``shard.json``, which says what it is."""

from __future__ import annotations

import csv
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from opslab.grade.report import csv_cell

SHARD_FILE = "shard.json"


class ShardError(ValueError):
    """Shards that cannot be merged (missing, repeated, of another lab); the message says which."""


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' (1 <= K <= N) -> (K, N)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ValueError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
    return int(match[1]), int(match[2])


def pick(submissions: dict[str, Path], shard: tuple[int, int]) -> dict[str, Path]:
    """Shard K of N: every N-th learner in learner-id order, from the K-th. The same on every machine."""
    k, n = shard
    return {learner: path for i, (learner, path) in enumerate(sorted(submissions.items())) if i % n == k - 1}


def write_manifest(out: Path, lab: str, shard: tuple[int, int], learners: list[str], questions, isolation: str,
                   total: int) -> None:
    (out / SHARD_FILE).write_text(json.dumps({
        "lab": lab, "shard": list(shard), "submissions": total, "learners": sorted(learners),
        "questions": [[q.id, q.points] for q in questions], "isolation": isolation}, indent=1))


@dataclass
class Shard:
    folder: Path
    manifest: dict


def read_shards(folders: list[Path]) -> list[Shard]:
    """Every shard of one grading, checked: same lab, questions and N, each K exactly once."""
    shards = []
    for folder in folders:
        try:
            manifest = json.loads((folder / SHARD_FILE).read_text())
        except (OSError, ValueError) as err:
            raise ShardError(f"{folder}: not a shard of `opslab grade --shard` ({err})") from None
        shards.append(Shard(folder, manifest))
    if not shards:
        raise ShardError("no shard folders given")
    first = shards[0].manifest
    for shard in shards[1:]:
        for key in ("lab", "questions", "submissions"):
            if shard.manifest.get(key) != first.get(key):
                raise ShardError(f"{shard.folder}: another grading than {shards[0].folder} (its {key} differs)")
    n = first["shard"][1]
    seen = sorted(s.manifest["shard"][0] for s in shards)
    if any(s.manifest["shard"][1] != n for s in shards) or seen != list(range(1, n + 1)):
        raise ShardError(f"shards of {n} expected, one each of 1..{n}; got {', '.join(map(str, seen))}")
    learners = [learner for s in shards for learner in s.manifest["learners"]]
    if len(learners) != len(set(learners)) or len(learners) != first["submissions"]:
        raise ShardError(f"the shards hold {len(learners)} gradings of {first['submissions']} submissions")
    return shards


def merge(folders: list[Path], out: Path) -> tuple[list[dict], dict]:
    """Write OUT/grades.csv and OUT/feedback/ from the shards; return the rows and the first manifest."""
    shards = read_shards(folders)
    rows, header = [], None
    for shard in shards:
        with (shard.folder / "grades.csv").open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = header or reader.fieldnames
            rows += list(reader)
    rows.sort(key=lambda row: row["learner"])
    shutil.rmtree(out / "feedback", ignore_errors=True)
    (out / "feedback").mkdir(parents=True)
    for shard in shards:
        for page in sorted((shard.folder / "feedback").iterdir()):
            shutil.copy2(page, out / "feedback" / page.name)
    with (out / "grades.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return rows, shards[0].manifest
