"""Write generations: a bump by one process is seen by every process mapping the same file,
and only by readers of the tables it wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.meta.generation import LocalGeneration, SharedGeneration, slots_of

TAGS, BLOBS = slots_of(["tags"]), slots_of(["blobs"])


def test_shared_generation_changes_for_every_reader(tmp_path: Path) -> None:
    writer, reader = SharedGeneration(tmp_path / "g"), SharedGeneration(tmp_path / "g")
    try:
        before = reader.current(TAGS)
        writer.bump(TAGS)
        after = reader.current(TAGS)
        assert after != before
        writer.bump(TAGS)
        assert reader.current(TAGS) not in (before, after)
        assert writer.sees_other_writers
    finally:
        writer.close()
        reader.close()


@pytest.mark.parametrize("kind", ["local", "shared"])
def test_a_bump_changes_only_the_tables_written_and_any_table(tmp_path: Path, kind: str) -> None:
    generation = LocalGeneration() if kind == "local" else SharedGeneration(tmp_path / "g")
    try:
        tags, blobs, anything = (generation.current(s) for s in (TAGS, BLOBS, slots_of([])))
        generation.bump(BLOBS)
        assert generation.current(TAGS) == tags
        assert generation.current(BLOBS) != blobs
        assert generation.current(slots_of([])) != anything
        generation.bump(slots_of(None))
        assert generation.current(TAGS) != tags
    finally:
        generation.close()


def test_a_file_of_the_older_single_slot_size_grows(tmp_path: Path) -> None:
    (tmp_path / "g").write_bytes(b"\x01" * 8)
    generation = SharedGeneration(tmp_path / "g")
    try:
        before = generation.current(TAGS)
        generation.bump(TAGS)
        assert generation.current(TAGS) != before
    finally:
        generation.close()


def test_local_generation_sees_only_its_own_bumps() -> None:
    generation = LocalGeneration()
    before = generation.current(TAGS)
    generation.bump(TAGS)
    assert generation.current(TAGS) != before
    assert not generation.sees_other_writers


def test_slots_are_stable_and_never_the_any_table_slot() -> None:
    assert slots_of(["tags"]) == slots_of(["tags"])
    assert 0 not in slots_of(["tags", "blobs", "manifests"])
    assert slots_of([]) == (0,)
    assert len(slots_of(None)) == 64
