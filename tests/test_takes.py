"""The web page's takes on disk (distill.takes): what a page sends back as a take's id never becomes a
path outside the takes' folder, a damaged take file never breaks the list, and a deleted take takes its
files with it."""

from __future__ import annotations

import json

import pytest
from distill import DistillError, Takes


def clip(folder, render="20261206-120000-abc", stem="tiny-7"):
    path = folder / render / f"{stem}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF")
    path.with_name(path.name + ".json").write_text("{}")
    path.with_suffix(".png").write_bytes(b"png")
    return path


def test_a_take_keeps_its_controls_star_and_name_and_deleting_removes_its_files(tmp_path):
    takes = Takes(tmp_path)
    first = takes.add(clip(tmp_path), controls={"seed": 7, "model": "tiny"}, vocoder="hifigan-base", seconds=2.0)
    second = takes.add(clip(tmp_path, stem="tiny-8"), controls={"seed": 8}, vocoder="hifigan-base", seconds=2.0,
                       name="later")
    assert [t.name for t in Takes(tmp_path).all()] == ["later", "tiny-7"]  # newest first, read back from disk
    assert takes.get(first.id).controls == {"seed": 7, "model": "tiny"}
    assert takes.star(first.id).starred and not takes.star(first.id).starred
    assert takes.rename(first.id, "  the   good one ").name == "the good one"
    with pytest.raises(DistillError, match="needs a name"):
        takes.rename(first.id, "   ")
    takes.delete(second.id)
    assert not second.clip.exists() and not second.sidecar.exists() and not second.picture.exists()
    assert [t.id for t in takes.all()] == [first.id]
    takes.delete(first.id)
    assert not any(tmp_path.iterdir())  # the render's folder goes with its last take


@pytest.mark.parametrize("bad", ["../secret", "takes/../../secret", "/secret", "a/b/c", "a", "", ".hidden/x"])
def test_an_id_from_the_page_never_becomes_a_path_outside_the_folder(tmp_path, bad):
    (tmp_path / "takes" / "a").mkdir(parents=True)
    take = {"name": "x", "created": 1.0, "clip": "secret.wav"}
    for planted in (tmp_path / "secret.take.json", tmp_path / "takes" / "a" / "b" / "c.take.json"):
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_text(json.dumps(take))  # a take file where an escaping id would find one
    with pytest.raises(DistillError, match="not a take of this page"):
        Takes(tmp_path / "takes").get(bad)


def test_a_damaged_or_escaping_take_file_is_left_out_of_the_list(tmp_path):
    takes = Takes(tmp_path)
    good = takes.add(clip(tmp_path), controls={}, vocoder="x", seconds=1.0)
    render = good.clip.parent
    (render / "broken.take.json").write_text("{not json")
    (render / "escape.take.json").write_text(json.dumps({"name": "x", "created": 1.0, "clip": "../../etc/passwd"}))
    assert [t.id for t in takes.all()] == [good.id]
