"""Write generations: a bump by one process is seen by every process mapping the same file."""

from __future__ import annotations

from pathlib import Path

from berth.meta.generation import LocalGeneration, SharedGeneration


def test_shared_generation_changes_for_every_reader(tmp_path: Path) -> None:
    writer, reader = SharedGeneration(tmp_path / "g"), SharedGeneration(tmp_path / "g")
    try:
        before = reader.current()
        writer.bump()
        after = reader.current()
        assert after != before
        writer.bump()
        assert reader.current() not in (before, after)
        assert writer.sees_other_writers
    finally:
        writer.close()
        reader.close()


def test_local_generation_sees_only_its_own_bumps() -> None:
    generation = LocalGeneration()
    before = generation.current()
    generation.bump()
    assert generation.current() != before
    assert not generation.sees_other_writers
