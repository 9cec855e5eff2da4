from __future__ import annotations

import gc
import json
import weakref

import pytest

from recommender.serving import artifacts
from recommender.serving.artifacts import load, load_or_build, save
from recommender.serving.service import ModelSettings, Recommender
from recommender.storage.inputs import CsvInputs

SETTINGS = ModelSettings(neighbours=10)


def answers(model: Recommender) -> list:
    calls = [
        lambda: model.similar("P1", 5),
        lambda: model.for_user("U5", 5),
        lambda: model.for_user("stranger", 5),
        lambda: model.hybrid("U6", "P2", 5),
        lambda: model.hybrid(None, "P4", 5),
        lambda: model.content_for("U1", None, 5),
    ]
    return [call() for call in calls]


def test_a_loaded_model_answers_exactly_like_the_fitted_one(model, tmp_path):
    folder = save(model, tmp_path)
    loaded = load(folder)
    assert loaded.version == model.version and folder.name == model.version
    assert answers(loaded) == answers(model)
    table = loaded.similar_items.indices
    assert not table.flags.owndata and not table.flags.writeable  # a view of the file's pages
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["products"] == 7 and meta["users"] == 6
    assert loaded.catalog.prices.tolist() == [8.5, 8.5, 30, 12, 6, 9, 25]  # revenue needs them
    mug = loaded.text.embed("Red Ceramic Mug", "Kitchen", "A red ceramic mug for coffee")
    assert abs(mug - model.text.vectors[0]).max() < 1e-6  # new text lands where the build put it
    assert (loaded.text.vectors != model.text.vectors).nnz == 0


def test_load_or_build_builds_once_then_loads(store, tmp_path, monkeypatch):
    first = load_or_build(CsvInputs(*store), SETTINGS, tmp_path)
    assert (tmp_path / first.version / "meta.json").exists()

    def no_build(*args, **kwargs):
        raise AssertionError("rebuilt although the artifacts were there")

    monkeypatch.setattr(Recommender, "from_csv", no_build)
    again = load_or_build(CsvInputs(*store), SETTINGS, tmp_path)
    assert again.version == first.version
    assert answers(again) == answers(first)


def test_a_model_built_at_start_is_served_from_the_files_it_saved(store, tmp_path, monkeypatch):
    built = []
    from_inputs = Recommender.from_inputs

    def watched(*args, **kwargs):
        model = from_inputs(*args, **kwargs)
        built.append(weakref.ref(model))
        return model

    monkeypatch.setattr(Recommender, "from_inputs", watched)
    gc.disable()  # as under gunicorn, whose master freezes what is alive when it forks
    try:
        served = load_or_build(CsvInputs(*store), SETTINGS, tmp_path)
    finally:
        gc.enable()
    assert len(built) == 1 and built[0]() is None  # the built model is gone, not kept beside
    table = served.similar_items.indices
    assert not table.flags.owndata and not table.flags.writeable  # the file's pages
    assert answers(served) == answers(from_inputs(CsvInputs(*store), SETTINGS))
    assert served.built["interactions"] == 13  # how it was built, read back from the files


def test_changed_inputs_make_a_new_version(store, tmp_path):
    products, interactions = store
    first = load_or_build(CsvInputs(products, interactions), SETTINGS, tmp_path)
    interactions.write_text(interactions.read_text() + "U7,P6,purchase,2024-02-01T00:00:00\n")
    second = load_or_build(CsvInputs(products, interactions), SETTINGS, tmp_path)
    assert second.version != first.version
    assert "U7" in second.history and "U7" not in first.history


def test_saving_a_version_twice_keeps_one_folder(model, tmp_path):
    out = tmp_path / "artifacts"
    save(model, out)
    save(model, out)
    assert [p.name for p in out.iterdir()] == [model.version]


def test_an_unknown_format_is_refused(model, tmp_path, monkeypatch):
    folder = save(model, tmp_path)
    monkeypatch.setattr(artifacts, "MODEL_FORMAT", artifacts.MODEL_FORMAT + 1)
    with pytest.raises(ValueError, match="artifact format"):
        load(folder)


def test_a_folder_an_older_release_saved_is_left_alone_and_a_new_version_built(store, tmp_path, monkeypatch):
    from recommender.serving import fitting

    settings, out = ModelSettings(), tmp_path / "artifacts"
    monkeypatch.setattr(fitting, "MODEL_FORMAT", fitting.MODEL_FORMAT - 1)
    monkeypatch.setattr(artifacts, "MODEL_FORMAT", fitting.MODEL_FORMAT)
    old = load_or_build(CsvInputs(*store), settings, out)
    monkeypatch.undo()
    new = load_or_build(CsvInputs(*store), settings, out)  # the upgraded release, same inputs
    assert new.version != old.version
    assert sorted(p.name for p in out.iterdir()) == sorted([old.version, new.version])
    assert load_or_build(CsvInputs(*store), settings, out).version == new.version


def test_build_command_writes_what_the_server_loads(store, tmp_path, monkeypatch, capsys):
    from recommender import build

    products, interactions = store
    monkeypatch.setenv("NEIGHBOURS", "10")
    build.main(["--products", str(products), "--interactions", str(interactions), "--out", str(tmp_path)])
    version = capsys.readouterr().out.split()[1]
    assert load_or_build(CsvInputs(products, interactions), SETTINGS, tmp_path).version == version
