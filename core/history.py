"""The pass history: a tree of immutable records, rooted at the original image.

Branching is a new child of any node; later passes of other branches stay. Observers get a
:class:`TreeEvent`: what changed (:class:`TreeChange`) and the record it concerns.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from PIL import Image

from core.conditioning.regions import Region
from core.observable import Subscribers


class TreeChange(StrEnum):
    """What happened to a record: added (a pass, the root, an undone delete), changed
    (renamed), removed, or selected as the next pass's input."""

    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"
    SELECTED = "selected"


@dataclass(frozen=True)
class PassRecord:
    """One node: the original image (``parent_id`` None) or the result of a pass."""

    id: str
    parent_id: str | None
    image: Image.Image
    name: str
    params: dict = field(default_factory=dict)  # the engine's JSON pass record
    duration: float = 0.0
    created: float = field(default_factory=time.time)
    group: str | None = None  # e.g. a sweep or variations group id
    mask: Image.Image | None = None  # mode "L": the mask the pass used (white = change)
    strength_map: Image.Image | None = None  # mode "L": its strength map (255 = strength 1.0)
    regions: tuple[Region, ...] = ()  # its regional prompts (masks in mode "L")
    control_images: tuple[Image.Image, ...] = ()  # its ControlNet layers' control images (RGB)

    @property
    def is_root(self) -> bool:
        return self.parent_id is None

    @property
    def strength(self) -> float | None:
        return self.params.get("strength")

    @property
    def seed(self) -> int | None:
        return self.params.get("seed")


@dataclass(frozen=True)
class TreeEvent:
    """One change of a :class:`PassTree`: ``kind`` of change to ``record``."""

    kind: TreeChange
    record: PassRecord


class PassTree:
    """The tree of passes of one session; widgets only display it."""

    def __init__(self) -> None:
        self._records: dict[str, PassRecord] = {}
        self._children: dict[str, list[str]] = {}
        self._observers: Subscribers[TreeEvent] = Subscribers()
        self._ids = itertools.count(1)
        self.root_id: str | None = None
        self.current_id: str | None = None

    @classmethod
    def from_records(cls, records: Iterable[PassRecord], current_id: str | None) -> PassTree:
        """A tree of ``records`` as listed by :meth:`records` (root first, parents before their
        children, children in order), ``current_id`` selected. Emits nothing.

        Raises ValueError for a list that is not such a tree. New passes get ids after the
        highest ``p<N>`` among them.
        """
        tree = cls()
        highest = 0
        for record in records:
            if record.id in tree._records:
                raise ValueError(f"pass id {record.id!r} appears twice")
            if (record.parent_id is None) != (tree.root_id is None):
                raise ValueError("the first pass, and only it, must be the original image")
            if record.parent_id is not None and record.parent_id not in tree._records:
                raise ValueError(f"pass {record.id!r} comes before its parent")
            tree._records[record.id] = record
            tree._children[record.id] = []
            if record.parent_id is None:
                tree.root_id = record.id
            else:
                tree._children[record.parent_id].append(record.id)
            if record.id[:1] == "p" and record.id[1:].isdigit():
                highest = max(highest, int(record.id[1:]))
        if current_id is not None and current_id not in tree._records:
            raise ValueError(f"the selected pass {current_id!r} does not exist")
        tree.current_id = current_id
        tree._ids = itertools.count(highest + 1)
        return tree

    # -- observation --------------------------------------------------------------------------
    def subscribe(self, observer: Callable[[TreeEvent], None]) -> Callable[[], None]:
        """Call ``observer(event)`` on every change; returns an unsubscribe function."""
        return self._observers.subscribe(observer)

    def _emit(self, kind: TreeChange, record: PassRecord) -> None:
        self._observers.notify(TreeEvent(kind, record))

    # -- queries --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._records

    def get(self, record_id: str) -> PassRecord:
        return self._records[record_id]

    @property
    def root(self) -> PassRecord | None:
        return self._records.get(self.root_id) if self.root_id else None

    @property
    def current(self) -> PassRecord | None:
        return self._records.get(self.current_id) if self.current_id else None

    def children(self, record_id: str) -> list[PassRecord]:
        return [self._records[c] for c in self._children.get(record_id, [])]

    def lineage(self, record_id: str) -> list[PassRecord]:
        """The records from the root down to ``record_id``."""
        chain = []
        node: str | None = record_id
        while node is not None:
            record = self._records[node]
            chain.append(record)
            node = record.parent_id
        return chain[::-1]

    def records(self) -> list[PassRecord]:
        """All records, depth-first from the root (parents before children)."""
        out: list[PassRecord] = []

        def walk(node: str) -> None:
            out.append(self._records[node])
            for child in self._children.get(node, []):
                walk(child)

        if self.root_id:
            walk(self.root_id)
        return out

    def depth(self, record_id: str) -> int:
        return len(self.lineage(record_id)) - 1

    # -- edits ------------------------------------------------------------------------------------
    def set_root(self, image: Image.Image, name: str = "Original") -> PassRecord:
        """Start a new tree from an original image (clears everything)."""
        for record in self.records()[::-1]:
            self._emit(TreeChange.REMOVED, record)
        self._records.clear()
        self._children.clear()
        root = PassRecord(id="root", parent_id=None, image=image, name=name)
        self._records[root.id] = root
        self._children[root.id] = []
        self.root_id = root.id
        self._emit(TreeChange.ADDED, root)
        self.select(root.id)
        return root

    def add(
        self,
        parent_id: str,
        image: Image.Image,
        params: dict | None = None,
        name: str | None = None,
        duration: float = 0.0,
        group: str | None = None,
        *,
        mask: Image.Image | None = None,
        strength_map: Image.Image | None = None,
        regions: tuple[Region, ...] = (),
        control_images: tuple[Image.Image, ...] = (),
    ) -> PassRecord:
        """Add a pass result as a child of ``parent_id`` and return its record."""
        if parent_id not in self._records:
            raise KeyError(f"no pass {parent_id}")
        record_id = f"p{next(self._ids)}"
        while record_id in self._records:
            record_id = f"p{next(self._ids)}"
        params = dict(params or {})
        if name is None:
            name = f"Pass {record_id[1:]}"
            if "strength" in params:
                name += f" · {params['strength']:.2f}"
        record = PassRecord(
            record_id,
            parent_id,
            image,
            name,
            params,
            duration,
            group=group,
            mask=mask,
            strength_map=strength_map,
            regions=regions,
            control_images=control_images,
        )
        self._records[record_id] = record
        self._children[record_id] = []
        self._children[parent_id].append(record_id)
        self._emit(TreeChange.ADDED, record)
        return record

    def insert(self, record: PassRecord) -> None:
        """Put back a record removed earlier (undo of a delete); its parent must exist."""
        if record.parent_id is not None and record.parent_id not in self._records:
            raise KeyError(f"no pass {record.parent_id}")
        self._records[record.id] = record
        self._children.setdefault(record.id, [])
        if record.parent_id is not None:
            self._children[record.parent_id].append(record.id)
        self._emit(TreeChange.ADDED, record)

    def rename(self, record_id: str, name: str) -> PassRecord:
        record = dataclasses.replace(self._records[record_id], name=name)
        self._records[record_id] = record
        self._emit(TreeChange.CHANGED, record)
        return record

    def remove(self, record_id: str) -> list[PassRecord]:
        """Delete a pass and its descendants (the root cannot be deleted); returns them."""
        record = self._records[record_id]
        if record.is_root:
            raise ValueError("the original image cannot be deleted")
        removed = [r for r in self.records() if record_id in {x.id for x in self.lineage(r.id)}]
        for gone in removed[::-1]:
            del self._records[gone.id]
            self._children.pop(gone.id, None)
            self._emit(TreeChange.REMOVED, gone)
        parent_id = record.parent_id
        assert parent_id is not None  # only the root has none
        self._children[parent_id].remove(record_id)
        if self.current_id not in self._records:
            self.select(parent_id)
        return removed

    def select(self, record_id: str) -> None:
        self.current_id = record_id
        self._emit(TreeChange.SELECTED, self._records[record_id])
