"""The real window on a ``serve --ray`` pool: two one-CPU replicas on a local Ray instance serve
the tiny model behind a token, and the window, pointed at the pool's front door as at any
worker, files a Generate pass with a local pass's pixels and its step previews, and Cancel stops
a pool pass without filing anything."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from core.remote.jobs import JobQueue
from tests.core.pool_helpers import local_pool
from tests.core.remote_helpers import running_worker
from tests.gui.worker_helpers import PASS_TIMEOUT_MS, generate_and_wait, go_remote

pytest.importorskip("ray")
pytest.importorskip("ray.serve")

TOKEN = "pool-window-token"


@pytest.fixture(scope="module")
def pool_url(tiny_model_dir) -> Iterator[str]:
    """The front door (behind TOKEN) of a two-replica pool; its URL."""
    with local_pool() as pool:
        queue = JobQueue(executor=pool)
        queue.close = lambda: None  # type: ignore[method-assign]  # the pool outlives the app
        with running_worker(str(tiny_model_dir), TOKEN, queue=queue) as url:
            yield url


def test_the_window_generates_and_cancels_on_a_two_replica_pool(qtbot, main_window, pool_url):
    window, tree = main_window, main_window.tree
    default = torch.get_num_threads()
    torch.set_num_threads(1)  # the local pass on one thread, as in a one-CPU replica
    try:
        generate_and_wait(qtbot, window)
    finally:
        torch.set_num_threads(default)
    local = window.shown_record()
    assert local is not None

    assert go_remote(qtbot, window, pool_url, TOKEN) == "connected · 1 model"
    previews = []
    window.runner.preview.connect(lambda image: image is not None and previews.append(image))
    generate_and_wait(qtbot, window)
    pooled = window.shown_record()
    assert pooled is not None and pooled.id != local.id and pooled.parent_id == tree.root_id
    assert np.array_equal(np.asarray(pooled.image), np.asarray(local.image))
    assert previews, "step previews from the replica reach the canvas"
    assert not window.error_banner.isVisible()

    window.state.update(steps=400, strength=1.0)
    records, remote = len(tree), window.worker_choice.worker
    with qtbot.waitSignal(remote.preview, timeout=PASS_TIMEOUT_MS):
        assert window.generate()
    with qtbot.waitSignal(remote.cancelled, timeout=30_000):
        window.cancel()
    qtbot.waitUntil(lambda: not window.busy)
    assert len(tree) == records and not window.error_banner.isVisible()
