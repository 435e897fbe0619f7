"""A timer tick re-reads a project folder only when a watched file or an input changed."""

from __future__ import annotations

import os

from ui.polling import changes_only, stamp


def test_a_tick_skips_every_output_until_a_watched_file_or_an_input_changes(tmp_path):
    status = tmp_path / "status.json"
    status.write_text("{}")
    reads = []

    def read(project, metric):
        reads.append((project, metric))
        return [f"view {len(reads)}", metric]

    tick = changes_only(read, lambda project, metric: stamp([status, tmp_path / "missing"]), 2)
    first = tick(None, str(tmp_path), "logratio")
    assert first[:2] == ["view 1", "logratio"] and len(reads) == 1
    again = tick(first[2], str(tmp_path), "logratio")
    assert len(reads) == 1 and again[2] == first[2]
    assert again[:2] == [{"__type__": "update"}] * 2  # gr.skip(): the page keeps what it shows

    os.utime(status, ns=(1, 1))  # the run wrote its status
    changed = tick(again[2], str(tmp_path), "logratio")
    assert changed[0] == "view 2"
    assert tick(changed[2], str(tmp_path), "diff")[0] == "view 3"  # a changed input re-reads too
