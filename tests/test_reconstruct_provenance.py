"""Provenance of reconstructed cohorts (issue 19, item 2): the sidecar written beside every
cohort, picked up by the reader only when it describes the very data, carried into the results."""

from __future__ import annotations

import json

import pytest

from cit_bayes._paths import data_dir
from cit_bayes.cohort import read_cohort
from cit_bayes.cohort.provenance import read_provenance, sidecar_path, write_provenance
from cit_bayes.exceptions import CohortError
from cit_bayes.reconstruct import load_reconstruction_plan, reconstruct_cohort, write_reconstruction


@pytest.fixture(scope="module")
def reconstructed():
    return reconstruct_cohort(draw=2)


def test_the_sidecar_is_written_and_read_back(tmp_path, reconstructed):
    written = write_reconstruction([reconstructed], tmp_path / "cohort.csv")
    sidecar = tmp_path / "cohort.provenance.json"
    assert sidecar.is_file() and sidecar == sidecar_path(written["cohorts"])
    cohort = read_cohort(written["cohorts"])
    plan = load_reconstruction_plan()
    assert cohort.provenance["plan"] == {
        "name": plan.name, "sha256": plan.plan_hash, "file": "reconstruction.toml"
    }  # fmt: skip
    assert cohort.provenance["assumptions"] == plan.assumptions()
    assert (cohort.provenance["seed"], cohort.provenance["draw"]) == (20250101, 2)
    assert cohort.provenance["data_fingerprint"] == cohort.fingerprint
    text = sidecar.read_text(encoding="utf-8")
    assert "SYN-" not in text  # no identifier, no row of the data


def test_several_draws_each_get_their_sidecar(tmp_path):
    from cit_bayes.reconstruct import reconstruct_cohorts

    written = write_reconstruction(reconstruct_cohorts(draws=2), tmp_path / "c.csv")
    for k in (1, 2):
        cohort = read_cohort(written[f"draw{k}"])
        assert cohort.provenance["draw"] == k


def test_a_sidecar_of_other_data_is_not_used(tmp_path, reconstructed):
    written = write_reconstruction([reconstructed], tmp_path / "cohort.csv")
    path = written["cohorts"]
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    column = header.index("plt_day14")
    row[column] = str(int(row[column]) + 1)
    lines[1] = ",".join(row)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cohort = read_cohort(path)
    assert cohort.provenance is None
    assert any("written for other data" in note for note in cohort.notes)
    sidecar_path(path).write_text("{not json", encoding="utf-8")
    assert read_provenance(path, cohort.fingerprint)[1].endswith("unreadable (JSONDecodeError)")
    with pytest.raises(CohortError, match="lacks"):
        write_provenance(path, {"kind": "reconstruction"})


def test_the_shipped_cohort_carries_what_the_code_writes():
    shipped = data_dir() / "reconstructed" / "cohort.csv"
    on_disk = json.loads(sidecar_path(shipped).read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(reconstruct_cohort().provenance()))
    assert read_cohort(shipped).provenance == on_disk


def _nulls(value, where=""):
    if value is None:
        return [where]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _nulls(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for k, v in enumerate(value) for p in _nulls(v, f"{where}[{k}]")]
    return []


def test_the_provenance_fits_the_results_layout():
    """results.json allows no null outside its diagnostics: the sidecar, copied into
    meta.data.provenance, has none (a drawn cohort's too)."""
    from cit_bayes.reconstruct.uncertainty import reconstruct_drawn_cohorts

    shipped = read_cohort(data_dir() / "reconstructed" / "cohort.csv").provenance
    assert "drawn" not in shipped and _nulls(shipped) == []
    cohorts, _ = reconstruct_drawn_cohorts(1, 3)
    assert _nulls(cohorts[0].provenance()) == []
