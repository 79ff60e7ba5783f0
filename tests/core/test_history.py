"""The pass tree: parents, branching, rename/delete, observers."""

from __future__ import annotations

import pytest

from core.history import PassTree, TreeChange
from tests.tiny_models.images import make_image


@pytest.fixture
def tree():
    tree = PassTree()
    tree.set_root(make_image(16, 16))
    return tree


def test_passes_form_a_tree_and_branch(tree):
    first = tree.add("root", make_image(16, 16, 1), {"strength": 0.7, "seed": 1})
    second = tree.add(first.id, make_image(16, 16, 2), {"strength": 0.4})
    branch = tree.add(first.id, make_image(16, 16, 3), {"strength": 0.2})
    assert [c.id for c in tree.children(first.id)] == [second.id, branch.id]
    assert [r.id for r in tree.lineage(branch.id)] == ["root", first.id, branch.id]
    assert [r.id for r in tree.records()] == ["root", first.id, second.id, branch.id]
    assert first.strength == 0.7 and first.seed == 1 and "0.70" in first.name
    assert tree.depth(second.id) == 2


def test_rename_keeps_records_immutable(tree):
    record = tree.add("root", make_image(16, 16, 1))
    renamed = tree.rename(record.id, "keeper")
    assert renamed.name == "keeper" and record.name != "keeper"
    assert tree.get(record.id).name == "keeper"


def test_delete_removes_subtree_but_never_the_root(tree):
    first = tree.add("root", make_image(16, 16, 1))
    child = tree.add(first.id, make_image(16, 16, 2))
    other = tree.add("root", make_image(16, 16, 3))
    tree.select(child.id)
    removed = tree.remove(first.id)
    assert {r.id for r in removed} == {first.id, child.id}
    assert [r.id for r in tree.records()] == ["root", other.id]
    assert tree.current_id == "root"
    with pytest.raises(ValueError):
        tree.remove("root")
    tree.insert(removed[0])
    assert first.id in tree


def test_observers_hear_every_change(tree):
    events = []
    unsubscribe = tree.subscribe(lambda event: events.append((event.kind, event.record.id)))
    record = tree.add("root", make_image(16, 16, 1))
    tree.rename(record.id, "x")
    tree.select(record.id)
    tree.remove(record.id)
    assert events == [
        (TreeChange.ADDED, record.id),
        (TreeChange.CHANGED, record.id),
        (TreeChange.SELECTED, record.id),
        (TreeChange.REMOVED, record.id),
        (TreeChange.SELECTED, "root"),
    ]
    assert all(isinstance(kind, TreeChange) for kind, _ in events)
    unsubscribe()
    tree.add("root", make_image(16, 16, 2))
    assert len(events) == 5
