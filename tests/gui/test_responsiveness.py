"""What keeps the GUI thread free while a pass runs: previews converted on the worker thread,
coalesced (newest only) and throttled to the screen's rate; results' QImages made ahead.

Timing itself is measured by tests/benchmarks/bench_gui.py, never asserted here."""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

from gui import qt_images
from gui.run.preview_mailbox import PreviewMailbox


def _collect(mailbox: PreviewMailbox) -> list[tuple[int, object]]:
    received: list[tuple[int, object]] = []
    mailbox.ready.connect(lambda step, total, elapsed, image: received.append((step, image)))
    return received


def test_previews_are_converted_on_the_offering_thread_and_only_the_newest_is_delivered(qtbot):
    mailbox = PreviewMailbox(refresh_hz=1e9)  # no throttle: coalescing alone
    received = _collect(mailbox)

    def worker() -> None:
        for step in range(1, 6):
            mailbox.offer(step, 10, 0.1 * step, np.full((8, 8, 3), step, np.uint8))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert mailbox.converted_on == {thread.ident}
    assert received == []  # nothing ran on the GUI thread yet
    qtbot.waitUntil(lambda: len(received) == 1)
    qtbot.wait(20)
    step, image = received[0]
    assert step == 5 and len(received) == 1  # the four stale ones were dropped
    assert isinstance(image, QImage) and image.pixelColor(0, 0).red() == 5


def test_offers_faster_than_the_screen_are_skipped_but_the_last_step_never(qtbot):
    mailbox = PreviewMailbox(refresh_hz=1.0)  # one per second
    received = _collect(mailbox)
    picture = np.zeros((8, 8, 3), np.uint8)
    assert mailbox.offer(1, 3, 0.1, picture)
    assert not mailbox.offer(2, 3, 0.2, picture)  # too soon
    assert mailbox.offer(3, 3, 0.3, picture)  # the last step always goes through
    qtbot.waitUntil(lambda: bool(received))
    assert [step for step, _ in received] == [3]


def test_big_previews_are_scaled_down_on_the_worker(qtbot):
    mailbox = PreviewMailbox(refresh_hz=1e9)
    mailbox.max_side = 64
    received = _collect(mailbox)
    mailbox.offer(1, 1, 0.1, np.zeros((256, 128, 3), np.uint8))
    qtbot.waitUntil(lambda: bool(received))
    image = received[0][1]
    assert isinstance(image, QImage) and (image.width(), image.height()) == (32, 64)


def test_prepared_qimages_are_reused_while_the_picture_lives():
    picture = Image.new("RGB", (300, 200), (10, 20, 30))
    qt_images.prepare_qimages(picture, (64,))
    full, thumbnail = qt_images.pil_to_qimage(picture), qt_images.thumbnail_qimage(picture, 64)
    assert full is qt_images._ready(picture, 0)
    assert (thumbnail.width(), thumbnail.height()) == (64, 43)
    assert qt_images.thumbnail_qimage(picture, 32).width() == 32  # another side: made on demand
    key = id(picture)
    del picture
    assert key not in qt_images._prepared  # forgotten with the picture


def test_a_worker_shortens_the_interpreter_switch_interval(qtbot):
    import sys

    from gui.run.worker import GUI_SWITCH_INTERVAL_S, PassWorker

    worker = PassWorker()
    try:
        assert sys.getswitchinterval() <= GUI_SWITCH_INTERVAL_S
    finally:
        worker.shutdown(wait_ms=2000)


def test_canvas_repaints_blit_cached_items_and_a_preview_hides_the_picture_under_it(qtbot):
    from PySide6.QtGui import QUndoStack
    from PySide6.QtWidgets import QGraphicsItem

    from gui.canvas.canvas import Canvas

    canvas = Canvas(QUndoStack())
    qtbot.addWidget(canvas)
    canvas.resize(300, 300)
    canvas.show()
    canvas.set_image(Image.new("RGB", (1024, 1024), (10, 200, 10)))
    cached = QGraphicsItem.CacheMode.DeviceCoordinateCache
    drawn = [item for item in canvas.scene().items() if item.isVisible()]
    assert drawn and all(item.cacheMode() == cached for item in drawn if item.zValue() < 3)

    def centre() -> tuple[int, int, int]:
        colour = canvas.viewport().grab().toImage().pixelColor(150, 150)
        return colour.red(), colour.green(), colour.blue()

    canvas.show_preview(np.full((64, 64, 3), (200, 10, 10), np.uint8))
    assert not canvas._image_item.isVisible()  # covered by the preview: never drawn twice
    assert centre() == (200, 10, 10)
    canvas.show_preview(None)
    assert canvas._image_item.isVisible() and centre() == (10, 200, 10)


def test_previews_are_scaled_to_the_pictures_size_on_screen_on_the_worker(qtbot):
    mailbox = PreviewMailbox(refresh_hz=1e9)
    received = _collect(mailbox)
    mailbox.display_size = (300, 200)  # the canvas shows the picture at 300×200 device pixels

    thread = threading.Thread(
        target=lambda: mailbox.offer(1, 1, 0.1, np.zeros((64, 96, 3), np.uint8))
    )
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(received) == 1)
    image = received[0][1]
    assert mailbox.converted_on == {thread.ident}
    assert isinstance(image, QImage) and (image.width(), image.height()) == (300, 200)
    # Zoomed in beyond the cap: the worker scales down to max_side only, the GUI does the rest.
    mailbox.display_size = (4000, 3000)
    mailbox.offer(1, 1, 0.1, np.zeros((1536, 2048, 3), np.uint8))
    qtbot.waitUntil(lambda: len(received) == 2)
    assert max(received[1][1].width(), received[1][1].height()) == mailbox.max_side


def test_a_pass_tells_the_worker_the_pictures_size_on_screen(main_window, qtbot):
    window = main_window
    window.canvas.resize(500, 500)
    window.canvas.fit()
    shown = window.canvas.scene_display_size()
    assert shown is not None and max(shown) < 500  # the whole picture, fitted
    with qtbot.waitSignal(window.runner.busy_changed, timeout=120_000) as started:
        assert window.generate()
    assert started.args == [True]
    assert window.runner.worker.previews.display_size == shown
    qtbot.waitUntil(lambda: not window.busy, timeout=120_000)
