"""Read a W&B offline run back from disk: what ``wandb sync`` would upload, without a network.

An offline run lives in ``<WANDB_DIR>/wandb/offline-run-<time>-<id>/``: ``run-<id>.wandb`` is a
transaction log of every record the run produced (config, history rows, summary, artifacts),
``files/`` the files it saved (tables and plots under ``files/media``). This module parses the log
so a lab can check what the run recorded, the way the W&B server would see it after a sync.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)  # magic, key, version: 7 bytes
_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _chunks(data: bytes):
    """The payloads of a LevelDB-style log (32 KiB blocks of [crc32, length, type] + data)."""
    pos, pending = len(_HEADER), b""
    while pos + 7 <= len(data):
        block_left = _BLOCK - pos % _BLOCK
        if block_left < 7:  # the rest of a block too small for a header is zero padding
            pos += block_left
            continue
        length, kind = struct.unpack_from("<HB", data, pos + 4)
        if pos + 7 + length > len(data):  # a record still being written: read it next time
            break
        payload = data[pos + 7: pos + 7 + length]
        pos += 7 + length
        if kind == _FULL:
            yield payload
        elif kind == _FIRST:
            pending = payload
        elif kind == _MIDDLE:
            pending += payload
        elif kind == _LAST:
            yield pending + payload
            pending = b""
        else:  # zero padding at the end of a file that is still being written
            break


def records(wandb_file: str | Path):
    """Every record of a ``.wandb`` file as ``(record_type, protobuf message)``."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(wandb_file).read_bytes()
    if not data.startswith(_HEADER):
        raise ValueError(f"{wandb_file}: not a W&B transaction log (bad header)")
    for chunk in _chunks(data):
        record = pb.Record()
        record.ParseFromString(chunk)
        kind = record.WhichOneof("record_type")
        yield kind, getattr(record, kind) if kind else record


def _value(json_text: str):
    try:
        return json.loads(json_text)
    except ValueError:
        return json_text


def _items(items) -> dict:
    return {item.key or ".".join(item.nested_key): _value(item.value_json) for item in items}


@dataclass
class OfflineRun:
    """What an offline run recorded: its id, name, group, job type, config, history rows, summary and
    artifacts."""

    path: Path
    run_id: str = ""
    project: str = ""
    name: str = ""  # wandb.init(name=...)
    group: str = ""  # wandb.init(group=...): e.g. the runs of one sweep
    job_type: str = ""
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    artifacts: list[dict] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    finished: bool = False  # the log holds the run's exit record: nothing more will be written


def read_offline_run(run_dir: str | Path, wait: float = 60) -> OfflineRun:
    """Parse ``run_dir`` (an ``offline-run-*`` folder) into an :class:`OfflineRun`.

    W&B's service process writes the log behind the run, and may still be writing just after
    ``run.finish()`` returns; so this waits up to ``wait`` seconds for the run's exit record and
    then reads what is there (``finished`` says whether the run was complete).
    """
    run_dir = Path(run_dir)
    logs = sorted(run_dir.glob("run-*.wandb"))
    if not logs:
        raise FileNotFoundError(f"{run_dir}: no run-*.wandb file; is this an offline run folder?")
    deadline = time.monotonic() + wait
    entries = list(records(logs[0]))
    while not any(kind == "exit" for kind, _ in entries) and time.monotonic() < deadline:
        time.sleep(0.2)
        entries = list(records(logs[0]))
    run = OfflineRun(path=run_dir, finished=any(kind == "exit" for kind, _ in entries))
    for kind, message in entries:
        if kind == "run":
            run.run_id, run.project = message.run_id, message.project
            run.name, run.group, run.job_type = message.display_name, message.run_group, message.job_type
            run.config.update(_items(message.config.update))
        elif kind == "config":
            run.config.update(_items(message.update))
        elif kind == "history":
            run.history.append(_items(message.item))
        elif kind == "summary":
            run.summary.update(_items(message.update))
        elif kind == "artifact":
            run.artifacts.append({
                "name": message.name, "type": message.type, "digest": message.digest,
                "aliases": list(message.aliases), "metadata": _value(message.metadata or "{}"),
                "files": [entry.path for entry in message.manifest.contents],
            })
    run.config = {k: v for k, v in run.config.items() if not k.startswith("_wandb")}
    files = run_dir / "files"
    run.files = sorted(str(p.relative_to(files)) for p in files.rglob("*") if p.is_file())
    return run


def offline_runs(wandb_dir: str | Path) -> list[Path]:
    """The ``offline-run-*`` folders under ``wandb_dir`` (the folder given to ``wandb.init(dir=...)``
    or its ``wandb`` subfolder), oldest first."""
    wandb_dir = Path(wandb_dir)
    root = wandb_dir / "wandb" if (wandb_dir / "wandb").is_dir() else wandb_dir
    return sorted(root.glob("offline-run-*"))
