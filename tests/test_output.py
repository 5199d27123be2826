"""Outputs never replace or delete what cit-bayes did not write (issue 13, item 6).

References: the rules of :mod:`cit_bayes.output` (a folder or file is replaced only when its
manifest ``.cit-bayes-output`` lists everything that would be lost; a failed step leaves no
folder, half-written file or empty parent behind; folders get ordinary permissions), and each
command that takes ``--out``: a user's file makes it exit 2, naming the file, before any long
step, and the file is untouched.
"""

from __future__ import annotations

import os

import pytest

from cit_bayes.cli import main
from cit_bayes.exceptions import CitBayesError
from cit_bayes.output import MARKER, claimed_files, staged_folder

USERS_TEXT = "a user's own file"


def test_staged_folder_replaces_on_success_and_keeps_the_old_on_failure(tmp_path):
    old_umask = os.umask(0o022)
    try:
        out = tmp_path / "report"
        with staged_folder(out) as staging:
            (staging / "a.txt").write_text("first")
        assert (out / "a.txt").read_text() == "first"
        with pytest.raises(RuntimeError), staged_folder(out) as staging:
            (staging / "a.txt").write_text("half")
            raise RuntimeError("step failed")
        assert (out / "a.txt").read_text() == "first"
        with staged_folder(out) as staging:
            (staging / "sub").mkdir()
            (staging / "sub" / "b.txt").write_text("second")
        assert sorted(p.name for p in out.iterdir()) == [MARKER, "sub"]
        assert (out / MARKER).read_text().splitlines()[1:] == ["sub/b.txt"]
        assert [p.name for p in tmp_path.iterdir()] == ["report"]  # nothing left beside it
        assert out.stat().st_mode & 0o055 == 0o055  # group and others may read (umask 022)
    finally:
        os.umask(old_umask)


def test_staged_folder_refuses_a_folder_it_did_not_write_and_leaves_no_parents(tmp_path):
    own = tmp_path / "mine"
    own.mkdir()
    (own / "notes.txt").write_text(USERS_TEXT)
    with pytest.raises(CitBayesError, match=r"did not write \(notes.txt\)"):
        with staged_folder(own):
            pass
    assert (own / "notes.txt").read_text() == USERS_TEXT
    assert sorted(p.name for p in own.iterdir()) == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with staged_folder(empty) as staging:
        (staging / "a.txt").write_text("x")
    assert (empty / "a.txt").is_file()
    deep = tmp_path / "new" / "deeper" / "report"
    with pytest.raises(RuntimeError), staged_folder(deep):
        raise RuntimeError("step failed")
    assert not (tmp_path / "new").exists()  # the parents it made are gone again


def test_a_users_file_dropped_into_an_earlier_report_is_not_deleted(tmp_path):
    out = tmp_path / "report"
    with staged_folder(out) as staging:
        (staging / "results.json").write_text("{}")
    (out / "my notes.md").write_text(USERS_TEXT)  # the user adds a file to our folder
    with pytest.raises(CitBayesError, match="my notes.md"):
        with staged_folder(out) as staging:
            (staging / "results.json").write_text("{}")
    assert (out / "my notes.md").read_text() == USERS_TEXT
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_an_earlier_version_marker_still_counts_as_ours(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / MARKER).write_text("written by cit-bayes; replaced as a whole by the next run\n")
    (out / "results.json").write_text("{}")
    with staged_folder(out) as staging:
        (staging / "new.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "new.json"]


def test_staged_folder_refuses_a_file_as_destination(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(CitBayesError, match="not a folder"), staged_folder(target):
        pass


def test_claimed_files_replace_only_their_own_files(tmp_path):
    folder = tmp_path / "data"
    with claimed_files(folder, ["cohort.csv"], make_folder=True) as target:
        (target / "cohort.csv").write_text("first")
    with claimed_files(folder, ["cohort.csv"]) as target:  # ours: replaced
        (target / "cohort.csv").write_text("second")
    assert (folder / "cohort.csv").read_text() == "second"
    (folder / "fidelity.csv").write_text(USERS_TEXT)
    with pytest.raises(CitBayesError, match="fidelity.csv"):
        with claimed_files(folder, ["cohort.csv", "fidelity.csv"]):
            pass
    assert (folder / "fidelity.csv").read_text() == USERS_TEXT
    with pytest.raises(RuntimeError), claimed_files(folder, ["cohort.csv", "extra.csv"]) as t:
        (t / "extra.csv").write_text("half-written")
        raise RuntimeError("step failed")
    assert not (folder / "extra.csv").exists()  # new and half-written: removed
    deep = tmp_path / "a" / "b"
    with pytest.raises(CitBayesError, match="does not exist"), claimed_files(deep, ["x.csv"]):
        pass
    with pytest.raises(RuntimeError), claimed_files(deep, ["x.csv"], make_folder=True):
        raise RuntimeError("step failed")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["audit", "--out", "{folder}"],
        ["reanalyse", "--published", "--out", "{folder}"],
        ["weights", "{cohort}", "--out", "{folder}"],
        ["fit", "{cohort}", "--out", "{folder}"],
    ],
    ids=["audit", "reanalyse", "weights", "fit"],
)
def test_report_commands_refuse_a_folder_with_a_users_file(command, tmp_path, capsys):
    from cit_bayes._paths import data_dir
    from cit_bayes.pipeline import BUNDLED_COHORT

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.docx").write_text(USERS_TEXT)
    argv = [word.format(folder=folder, cohort=data_dir() / BUNDLED_COHORT) for word in command]
    assert main(argv) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.docx"]
    assert (folder / "thesis.docx").read_text() == USERS_TEXT
    assert "thesis.docx" in capsys.readouterr().err


def test_simulate_and_reconstruct_do_not_overwrite_a_users_file(tmp_path, capsys):
    target = tmp_path / "cohort.csv"
    target.write_text(USERS_TEXT)
    assert main(["simulate", "--n", "40", "--seed", "1", "--out", str(target)]) == 2
    assert target.read_text() == USERS_TEXT
    assert not (tmp_path / "cohort.csv.truth.json").exists()
    assert "cohort.csv" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "fidelity.txt").write_text(USERS_TEXT)
    assert main(["reconstruct", "--out", str(other / "cohort.csv")]) == 2
    assert sorted(p.name for p in other.iterdir()) == ["fidelity.txt"]
    assert "fidelity.txt" in capsys.readouterr().err
    own = tmp_path / "sim.csv"
    assert main(["simulate", "--n", "40", "--seed", "1", "--out", str(own)]) == 0
    assert main(["simulate", "--n", "40", "--seed", "2", "--out", str(own)]) == 0  # ours
