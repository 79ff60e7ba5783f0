"""The pass history: a tree of cards that mirrors a :class:`core.history.PassTree`.

The panel only displays the tree and forwards user intents: clicking a card shows it
(``record_shown``), "Continue from here" makes it the next pass's input, Rename and Delete edit
the tree, Compare opens the comparison dialog.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QGridLayout,
    QHeaderView,
    QInputDialog,
    QMenu,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.history import PassRecord, PassTree, TreeChange, TreeEvent
from core.history_drift import pass_drift
from core.imaging import blur_mask
from gui.history.conditioning_text import conditioning_lines
from gui.history.drift_badge import drift_badge
from gui.qt_helpers import ask, named, plain_tooltip
from gui.qt_images import HISTORY_THUMBNAIL_SIDE, thumbnail_qimage

THUMBNAIL_SIZE = HISTORY_THUMBNAIL_SIDE  # made on the worker thread for each result
ID_ROLE = Qt.ItemDataRole.UserRole


def card_text(record: PassRecord) -> str:
    """The lines of a history card: name, parameters, prompt snippet, duration and model."""
    if record.is_root:
        return f"{record.name}\n{record.image.width}×{record.image.height} original"
    params = record.params
    facts = []
    if record.strength is not None:
        facts.append(f"strength {record.strength:.2f}")
    steps = params.get("effective_steps") or params.get("steps")
    if steps is not None:
        facts.append(f"{steps} steps")
    seed = f"seed {record.seed}" if record.seed is not None else ""
    prompt = " ".join(str(params.get("prompt") or "").split())
    if len(prompt) > 30:
        prompt = prompt[:29] + "…"
    model = params.get("model") or ""
    if isinstance(model, dict):
        model = model.get("name") or model.get("reference") or ""
    model = str(model)
    tail = [f"{record.duration:.1f} s"] if record.duration else []
    if model:
        tail.append(model if len(model) <= 28 else "…" + model[-27:])
    lines = [record.name, " · ".join(facts), seed, f"“{prompt}”" if prompt else "(no prompt)"]
    lines.append(seam_text(params))
    lines.append(" · ".join(tail))
    return "\n".join(line for line in lines if line)


def seam_text(params: dict) -> str:
    """The colour step a masked pass left across its mask's edge, beside the picture's own step
    there (ΔE; :mod:`core.imaging.seam`), or "" for a pass without those figures."""
    seam, own = params.get("seam_delta_e"), params.get("seam_delta_e_original")
    if not isinstance(seam, int | float) or not isinstance(own, int | float):
        return ""
    match = " · colour matched" if params.get("color_match") else ""
    return f"seam ΔE {seam:.1f} (picture's own {own:.1f}){match}"


def group_title(record: PassRecord) -> str:
    """The header of a group of passes (a sweep or a variations run)."""
    workflow = record.params.get("workflow") or {}
    kind = workflow.get("type", "group")
    if kind == "sweep":
        strengths = workflow.get("strengths") or []
        seeds = workflow.get("seeds") or []
        return f"Strength sweep · {len(strengths)} strengths × {len(seeds)} seed(s)"
    if kind == "variations":
        strength = f" at {record.strength:.2f}" if record.strength is not None else ""
        return f"Variations · {workflow.get('of', '?')} seeds{strength}"
    return kind.capitalize()


class HistoryPanel(QWidget):
    """Cards for every pass; the next pass's input is shown in bold with a ▶ marker."""

    record_shown = Signal(str)  # a card was clicked: show that record
    continue_requested = Signal(str)  # make that record the input of the next pass
    edit_reference_requested = Signal(str)  # add that record's picture as an edit reference

    def __init__(self, tree: PassTree, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyPanel")
        self._tree = tree
        self._items: dict[str, QTreeWidgetItem] = {}
        self._groups: dict[tuple[str, str], QTreeWidgetItem] = {}  # (parent id, group id)

        self.view = named(QTreeWidget(), "historyTree")
        self.view.setHeaderHidden(True)
        self.view.setColumnCount(2)  # the card; a drift warning icon
        self.view.header().setStretchLastSection(False)
        self.view.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.view.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.view.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.setIndentation(14)
        self.view.setUniformRowHeights(False)
        self.view.setWordWrap(False)
        self.view.setToolTip("Click to view; right-click for more. Ctrl+click two to compare.")

        self.continue_action = QAction("Continue from here", self)
        self.continue_action.setToolTip("Use this pass as the input of the next pass")
        self.compare_action = QAction("Compare", self)
        self.compare_action.setToolTip("Compare the two selected passes")
        self.compare_original_action = QAction("Compare with original", self)
        self.edit_reference_action = QAction("Use as edit reference", self)
        self.edit_reference_action.setToolTip(
            "Add this pass's picture to the Control panel's edit references (image 2, 3…)"
        )
        self.rename_action = QAction("Rename…", self)
        self.delete_action = QAction("Delete…", self)
        self.delete_action.setToolTip("Delete this pass and the passes made from it")

        buttons = QGridLayout()
        buttons.setSpacing(4)
        for index, action in enumerate(
            (
                self.continue_action,
                self.compare_action,
                self.compare_original_action,
                self.rename_action,
                self.delete_action,
            )
        ):
            button = QPushButton(action.text())
            button.setObjectName(action.text().rstrip("…").replace(" ", "") + "Button")
            button.setToolTip(action.toolTip())
            button.clicked.connect(action.trigger)
            action.enabledChanged.connect(button.setEnabled)
            if index == 0:
                buttons.addWidget(button, 0, 0, 1, 2)
            else:
                buttons.addWidget(button, 1 + (index - 1) // 2, (index - 1) % 2)
        self.setMinimumWidth(300)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)

        self.continue_action.triggered.connect(self._on_continue_triggered)
        self.compare_action.triggered.connect(self._on_compare_triggered)
        self.compare_original_action.triggered.connect(self._on_compare_original_triggered)
        self.rename_action.triggered.connect(self._on_rename_triggered)
        self.edit_reference_action.triggered.connect(self._on_edit_reference_triggered)
        self.delete_action.triggered.connect(self._on_delete_triggered)
        self.view.itemSelectionChanged.connect(self._on_selection_changed)
        self.view.itemClicked.connect(self._on_item_clicked)
        self.view.currentItemChanged.connect(self._on_current_item_changed)
        self.view.customContextMenuRequested.connect(self._on_context_menu_requested)

        for record in tree.records():
            self._on_tree_changed(TreeEvent(TreeChange.ADDED, record))
        if tree.current is not None:
            self._on_tree_changed(TreeEvent(TreeChange.SELECTED, tree.current))
        self._unsubscribe = tree.subscribe(self._on_tree_changed)
        self.destroyed.connect(lambda *_: self._unsubscribe())
        self._on_selection_changed()

    # -- queries --------------------------------------------------------------------------------
    def item(self, record_id: str) -> QTreeWidgetItem | None:
        return self._items.get(record_id)

    def selected_ids(self) -> list[str]:
        ids = (item.data(0, ID_ROLE) for item in self.view.selectedItems())
        return [record_id for record_id in ids if record_id]

    def group_item(self, parent_id: str, group: str) -> QTreeWidgetItem | None:
        """The header item that holds the passes of one sweep or variations run."""
        return self._groups.get((parent_id, group))

    def select(self, *record_ids: str) -> None:
        """Select the cards of ``record_ids`` (the first one becomes current)."""
        self.view.clearSelection()
        for index, record_id in enumerate(record_ids):
            item = self._items[record_id]
            if index == 0:
                self.view.setCurrentItem(item)
            item.setSelected(True)

    def show_card(self, record_id: str) -> None:
        """Make ``record_id``'s card the current one, selected and scrolled into view (the card
        of the picture on the canvas). A multi-selection that already holds it is kept."""
        item = self._items.get(record_id)
        if item is None:
            return
        if self.view.currentItem() is not item:
            self.select(record_id)
        self.view.scrollToItem(item)

    # -- intents ---------------------------------------------------------------------------------
    def compare(self, left_id: str, right_id: str) -> QDialog:
        """Open the comparison dialog for two records and return it."""
        from gui.history.compare_view import open_compare_dialog

        left, right = self._tree.get(left_id), self._tree.get(right_id)
        mask = right.mask  # as the pass blended through it (blurred): the seam's edge
        if mask is not None:
            mask = blur_mask(mask, float(right.params.get("mask_blur") or 0))
        return open_compare_dialog(
            self.window(), left.image, right.image, left.name, right.name, mask
        )

    def delete(self, record_id: str) -> bool:
        """Delete a pass and its descendants after asking; returns whether it was deleted."""
        record = self._tree.get(record_id)
        if record.is_root:
            return False
        count = len(self._descendants(record_id))
        extra = f" and the {count} passes made from it" if count else ""
        if not ask(self, "Delete pass", f"Delete “{record.name}”{extra}? This cannot be undone."):
            return False
        self._tree.remove(record_id)
        return True

    def _descendants(self, record_id: str) -> list[PassRecord]:
        out: list[PassRecord] = []
        for child in self._tree.children(record_id):
            out += [child, *self._descendants(child.id)]
        return out

    # -- tree observer ----------------------------------------------------------------------
    def _on_tree_changed(self, event: TreeEvent) -> None:
        kind, record = event.kind, event.record
        if kind is TreeChange.ADDED:
            self._add_item(record)
        elif kind is TreeChange.CHANGED and record.id in self._items:
            self._fill_item(self._items[record.id], record)
        elif kind is TreeChange.REMOVED:
            item = self._items.pop(record.id, None)
            if item is not None:
                parent = item.parent()
                if parent is not None:
                    parent.removeChild(item)
                    self._drop_empty_group(parent)
                else:
                    self.view.takeTopLevelItem(self.view.indexOfTopLevelItem(item))
            for key in [k for k in self._groups if k[0] == record.id]:
                del self._groups[key]
        elif kind is TreeChange.SELECTED:
            self._mark_input(record.id)
        self._on_selection_changed()

    def _add_item(self, record: PassRecord) -> None:
        item = QTreeWidgetItem()
        item.setData(0, ID_ROLE, record.id)
        item.setIcon(0, QIcon(QPixmap.fromImage(thumbnail_qimage(record.image, THUMBNAIL_SIZE))))
        self._fill_item(item, record)
        parent = self._items.get(record.parent_id) if record.parent_id else None
        if parent is not None and record.group:
            parent = self._group_header(parent, record)
        if parent is None:
            self.view.addTopLevelItem(item)
        else:
            parent.addChild(item)
            parent.setExpanded(True)
        self._items[record.id] = item
        drift = pass_drift(self._tree, record.id) if record.id in self._tree else None
        if drift is not None:
            self.view.setItemWidget(item, 1, drift_badge(drift))
        self.view.scrollToItem(item)

    def _group_header(self, parent: QTreeWidgetItem, record: PassRecord) -> QTreeWidgetItem:
        key = (record.parent_id or "", record.group or "")
        header = self._groups.get(key)
        if header is None:
            header = QTreeWidgetItem([group_title(record)])
            header.setToolTip(0, "Passes of one run; each can be shown, compared or continued")
            font = QFont(header.font(0))
            font.setItalic(True)
            header.setFont(0, font)
            parent.addChild(header)
            parent.setExpanded(True)
            self._groups[key] = header
        header.setExpanded(True)
        return header

    def _drop_empty_group(self, item: QTreeWidgetItem) -> None:
        key = next((k for k, header in self._groups.items() if header is item), None)
        if key is not None and item.childCount() == 0:
            del self._groups[key]
            parent = item.parent()
            if parent is not None:
                parent.removeChild(item)

    def _fill_item(self, item: QTreeWidgetItem, record: PassRecord) -> None:
        text = card_text(record)
        is_input = record.id == self._tree.current_id
        item.setText(0, ("▶ " if is_input else "") + text)
        tip = "\n".join([text, *conditioning_lines(record.params)])  # LoRAs, controls, references
        item.setToolTip(0, plain_tooltip(tip + ("\n(input of the next pass)" if is_input else "")))
        font = QFont(item.font(0))
        font.setBold(is_input)
        item.setFont(0, font)

    def _mark_input(self, current_id: str) -> None:
        for record_id, item in self._items.items():
            self._fill_item(item, self._tree.get(record_id))
        if current_id in self._items:
            self.view.scrollToItem(self._items[current_id])

    # -- handlers ---------------------------------------------------------------------------
    def _on_selection_changed(self) -> None:
        ids = [i for i in self.selected_ids() if i in self._tree]
        single = ids[0] if len(ids) == 1 else None
        non_root = single is not None and not self._tree.get(single).is_root
        self.continue_action.setEnabled(single is not None and single != self._tree.current_id)
        self.compare_action.setEnabled(len(ids) == 2)
        self.compare_original_action.setEnabled(non_root)
        self.rename_action.setEnabled(single is not None)
        self.edit_reference_action.setEnabled(bool(ids))
        self.delete_action.setEnabled(non_root)

    def _on_item_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        if item.data(0, ID_ROLE):
            self.record_shown.emit(item.data(0, ID_ROLE))

    def _on_current_item_changed(
        self, item: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None
    ) -> None:
        if item is not None and item.data(0, ID_ROLE):  # keyboard browsing shows the cards too
            self.record_shown.emit(item.data(0, ID_ROLE))

    def _on_context_menu_requested(self, pos: QPoint) -> None:
        item = self.view.itemAt(pos)
        if item is None or not item.data(0, ID_ROLE):
            return
        if not item.isSelected():
            self.select(item.data(0, ID_ROLE))
        menu = QMenu(self)
        menu.addAction(self.continue_action)
        menu.addAction(self.edit_reference_action)
        menu.addSeparator()
        menu.addAction(self.compare_action)
        menu.addAction(self.compare_original_action)
        menu.addSeparator()
        menu.addAction(self.rename_action)
        menu.addAction(self.delete_action)
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def _on_continue_triggered(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 1:
            self.continue_requested.emit(ids[0])

    def _on_edit_reference_triggered(self) -> None:
        for record_id in self.selected_ids():
            self.edit_reference_requested.emit(record_id)

    def _on_compare_triggered(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 2:
            left, right = sorted(ids, key=lambda i: self._tree.depth(i))
            self.compare(left, right)

    def _on_compare_original_triggered(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 1 and self._tree.root_id:
            self.compare(self._tree.root_id, ids[0])

    def _on_rename_triggered(self) -> None:
        ids = self.selected_ids()
        if len(ids) != 1:
            return
        record = self._tree.get(ids[0])
        name, ok = QInputDialog.getText(self, "Rename pass", "Name:", text=record.name)
        if ok and name.strip():
            self._tree.rename(record.id, name.strip())

    def _on_delete_triggered(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 1:
            self.delete(ids[0])
