"""What became of each item of a batch, and ``report.jsonl`` (one JSON line per item)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.atomic import atomic_write_bytes


@dataclass(frozen=True)
class BatchItem:
    """One input and what became of it: ``status`` is "done", "skipped" or "failed"."""

    source: Path
    output: Path
    status: str
    message: str = ""
    seed: int | None = None
    duration: float = 0.0

    def to_dict(self) -> dict:
        return {
            "input": str(self.source),
            "output": str(self.output),
            "status": self.status,
            "message": self.message,
            "seed": self.seed,
            "duration": round(self.duration, 3),
        }


@dataclass
class BatchReport:
    """The outcome of a batch; items not reached before a cancel are in no list."""

    total: int
    done: list[BatchItem] = field(default_factory=list)
    skipped: list[BatchItem] = field(default_factory=list)
    failed: list[BatchItem] = field(default_factory=list)
    cancelled: bool = False
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled

    def summary(self) -> str:
        text = (
            f"batch: {len(self.done)} done, {len(self.skipped)} skipped (already done), "
            f"{len(self.failed)} failed of {self.total} ({self.elapsed:.1f} s)"
        )
        return text + (" — cancelled" if self.cancelled else "")

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "cancelled": self.cancelled,
            "elapsed": round(self.elapsed, 3),
            "already_done": len(self.skipped),
            **{
                name: [item.to_dict() for item in getattr(self, name)]
                for name in ("done", "skipped", "failed")
            },
        }

    def items(self) -> list[BatchItem]:
        """Every item reached, in input-name order."""
        every = self.done + self.skipped + self.failed
        return sorted(every, key=lambda item: (item.source.name.lower(), str(item.source)))


def write_report_jsonl(report: BatchReport, path: str | Path) -> Path:
    """Write one JSON line per item reached (atomically) to ``path``."""
    lines = [json.dumps(item.to_dict(), ensure_ascii=False) for item in report.items()]
    return atomic_write_bytes(path, "".join(line + "\n" for line in lines).encode())
