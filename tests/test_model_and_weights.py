import io
import json
import warnings
import zipfile

import numpy as np
import pytest

import digitnet
from digitnet.errors import DigitnetError
from digitnet.network.model import Model
from digitnet.network.spec import mlp_spec, parse_spec


def test_short_spec_builds_the_expected_layers():
    model = Model("mlp:32,16")
    kinds = [layer["type"] for layer in model.spec["layers"]]
    assert kinds == ["flatten", "dense", "relu", "dense", "relu", "dense"]
    assert model.num_parameters == 784 * 32 + 32 + 32 * 16 + 16 + 16 * 11 + 11


def test_dict_and_json_specs_are_the_same_model():
    spec = mlp_spec((20,), activation="tanh", dropout=0.1)
    assert parse_spec(json.dumps(spec)) == spec
    assert [type(layer).__name__ for layer in Model(spec).layers] == [
        "Flatten",
        "Dense",
        "Tanh",
        "Dropout",
        "Dense",
    ]
    assert Model(spec).spec["layers"][1]["init"] == "glorot"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("resnet", "unknown architecture"),
        ("mlp:12,x", "bad layer sizes"),
        ("mlp:0", "positive"),
        ("{not json", "not valid JSON"),
        ({"layers": []}, "non-empty"),
        (
            {"layers": [{"type": "flatten"}, {"type": "dense", "units": 7}]},
            "end in 11 outputs \\(or 10\\)",
        ),
        ({"layers": [{"type": "dense", "units": 10}]}, "flatten"),
        ({"layers": [{"type": "warp"}]}, "unknown type"),
        ({"layers": [{"type": "flatten"}, {"type": "dense", "size": 10}]}, "layer 1 \\(dense\\)"),
    ],
)
def test_bad_specs_are_clear_errors(spec, message):
    with pytest.raises(DigitnetError, match=message):
        Model(spec)


def test_same_seed_same_weights():
    a, b, c = Model("mlp:8", seed=1), Model("mlp:8", seed=1), Model("mlp:8", seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not np.array_equal(a.parameters()[0], c.parameters()[0])


def test_predict_proba_accepts_both_shapes_and_sums_to_one():
    model = Model("mlp:16")
    images = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    square = model.predict_proba(images)
    flat = model.predict_proba(images.reshape(5, 784))
    assert square.shape == (5, 10) and square.dtype == np.float32
    assert np.allclose(square, flat)
    assert np.allclose(square.sum(axis=1), 1, atol=1e-6)
    assert model.predict_proba(np.zeros((0, 784), np.float32)).shape == (0, 10)
    with pytest.raises(DigitnetError, match="expected images"):
        model.predict_proba(np.zeros((2, 27, 28), np.float32))


def test_temperature_softens_probabilities_without_changing_the_prediction():
    model = Model("mlp:16")
    images = np.random.default_rng(0).random((20, 28, 28), dtype=np.float32)
    sharp = model.predict_proba(images)
    model.metadata["temperature"] = 3.0
    soft = model.predict_proba(images)
    assert np.array_equal(sharp.argmax(1), soft.argmax(1))
    assert soft.max(axis=1).mean() < sharp.max(axis=1).mean()


def test_save_and_load_round_trip(tmp_path):
    model = Model("mlp:16,8", seed=3, metadata={"name": "tiny"})
    path = digitnet.save_model(model, tmp_path / "tiny.npz")
    loaded = digitnet.load_model(path)
    images = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    assert np.array_equal(loaded.predict_proba(images), model.predict_proba(images))
    assert loaded.metadata["name"] == "tiny"
    assert len(loaded.metadata["checksum"]) == 64
    assert not list(tmp_path.glob("*.tmp")), "the temporary file must be renamed away"
    with np.load(path, allow_pickle=False) as archive:
        assert "__metadata__" in archive.files


def read_archive(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def write_archive(path, arrays):
    with open(path, "wb") as file:
        np.savez(file, **arrays)


@pytest.fixture
def saved(tmp_path):
    return digitnet.save_model(Model("mlp:16"), tmp_path / "model.npz")


def test_truncated_file_is_a_clear_error(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(DigitnetError, match="corrupted or truncated") as error:
        digitnet.load_model(saved)
    assert "\n" not in str(error.value) and str(saved) in str(error.value)


def test_a_file_that_is_not_a_zip_is_not_called_pickled_data(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"this is not a weights file")
    with pytest.raises(DigitnetError) as error:
        digitnet.load_model(path)
    assert str(error.value) == f"{path}: not a digitnet weights file (not a .npz archive)"


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DigitnetError, match="no such weights file"):
        digitnet.load_model(tmp_path / "absent.npz")


def test_arrays_that_do_not_match_the_spec_are_refused(saved, tmp_path):
    arrays = read_archive(saved)
    arrays["1.W"] = np.zeros((784, 17), np.float32)
    write_archive(tmp_path / "shape.npz", arrays)
    with pytest.raises(DigitnetError, match="has shape"):
        digitnet.load_model(tmp_path / "shape.npz")
    del arrays["1.W"]
    write_archive(tmp_path / "missing.npz", arrays)
    with pytest.raises(DigitnetError, match="missing \\['1.W'\\]"):
        digitnet.load_model(tmp_path / "missing.npz")


def test_nan_weights_and_missing_metadata_are_refused(saved, tmp_path):
    arrays = read_archive(saved)
    arrays["1.b"] = np.full(16, np.nan, np.float32)
    write_archive(tmp_path / "nan.npz", arrays)
    with pytest.raises(DigitnetError, match="NaN"):
        digitnet.load_model(tmp_path / "nan.npz")
    del arrays["__metadata__"]
    write_archive(tmp_path / "bare.npz", arrays)
    with pytest.raises(DigitnetError, match="no metadata"):
        digitnet.load_model(tmp_path / "bare.npz")


def test_pickled_objects_are_never_loaded(tmp_path):
    path = tmp_path / "pickle.npz"
    with zipfile.ZipFile(path, "w") as archive, archive.open("__metadata__.npy", "w") as member:
        np.save(member, np.array([{"spec": "mlp"}], dtype=object), allow_pickle=True)
    with pytest.raises(DigitnetError, match="the metadata is not a text of JSON"):
        digitnet.load_model(path)


def test_saved_files_are_readable_by_others_as_the_umask_allows(tmp_path):
    path = digitnet.save_model(Model("mlp:8"), tmp_path / "shared.npz")
    assert path.stat().st_mode & 0o777 == 0o666 & ~digitnet.files.UMASK


# --- Issue 8 point 6: crafted weights files, each refused in one line before any allocation ----


def with_metadata(saved, tmp_path, metadata):
    """The saved model's arrays under crafted metadata."""
    arrays = read_archive(saved)
    arrays["__metadata__"] = np.array(json.dumps(metadata))
    write_archive(tmp_path / "crafted.npz", arrays)
    return tmp_path / "crafted.npz"


def refused(path, match):
    with pytest.raises(DigitnetError, match=match) as error:
        digitnet.load_model(path)
    assert "\n" not in str(error.value) and str(error.value).startswith(str(path))
    return str(error.value)


def dense_spec(units):
    return {"layers": [{"type": "flatten"}, {"type": "dense", "units": units}]}


def test_spec_with_negative_units_is_refused(saved, tmp_path):
    refused(with_metadata(saved, tmp_path, {"spec": dense_spec(-5)}), "bad spec in metadata")


def test_spec_whose_layers_are_not_objects_is_refused(saved, tmp_path):
    refused(with_metadata(saved, tmp_path, {"spec": {"layers": [1]}}), "bad spec in metadata")


def test_spec_that_is_a_list_is_refused(saved, tmp_path):
    refused(with_metadata(saved, tmp_path, {"spec": [{"type": "flatten"}]}), "no network spec")


def test_metadata_that_is_not_a_json_object_is_refused(saved, tmp_path):
    refused(with_metadata(saved, tmp_path, ["spec"]), "no network spec")
    arrays = read_archive(saved)
    arrays["__metadata__"] = np.array("{not json")
    write_archive(tmp_path / "text.npz", arrays)
    refused(tmp_path / "text.npz", "not valid JSON")


@pytest.mark.parametrize("units", [1e8, 100_000_000], ids=["float", "int"])
def test_spec_with_1e8_units_is_refused_without_allocating(saved, tmp_path, units):
    refused(with_metadata(saved, tmp_path, {"spec": dense_spec(units)}), "bad spec in metadata")


def test_string_typed_array_is_refused(saved, tmp_path):
    arrays = read_archive(saved)
    arrays["1.b"] = np.array(["x"] * 16)
    write_archive(tmp_path / "text.npz", arrays)
    refused(tmp_path / "text.npz", "array 1.b holds <U1, not floating-point numbers")


def test_complex_array_is_refused_without_a_warning(saved, tmp_path):
    arrays = read_archive(saved)
    arrays["1.b"] = arrays["1.b"].astype(np.complex64)
    write_archive(tmp_path / "complex.npz", arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refused(tmp_path / "complex.npz", "array 1.b holds complex64")


def bare_npy(shape, descr="<f4"):
    """A .npy member declaring ``shape``, with none of its data: what a crafted file may say."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return header.getvalue()


def add_member(path, name, payload):
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, payload)


def test_an_extra_2_gb_array_is_refused_before_it_is_read(saved, tmp_path):
    # A 2 GB array of zeros compresses to 2 MB; its declared size alone must refuse it.
    add_member(saved, "extra.npy", bare_npy((2**28,), "<f8"))
    refused(saved, "unexpected \\['extra'\\]")


def test_an_array_declaring_more_bytes_than_the_spec_needs_is_refused(saved, tmp_path):
    arrays = read_archive(saved)
    buffer = io.BytesIO()
    np.save(buffer, arrays.pop("1.b"))
    write_archive(tmp_path / "padded.npz", arrays)
    add_member(tmp_path / "padded.npz", "1.b.npy", buffer.getvalue() + bytes(1 << 20))
    refused(tmp_path / "padded.npz", "declares 1,048,")


def test_an_array_of_the_wrong_shape_is_refused_from_its_header(saved, tmp_path):
    arrays = read_archive(saved)
    del arrays["1.W"]
    write_archive(tmp_path / "huge.npz", arrays)
    add_member(tmp_path / "huge.npz", "1.W.npy", bare_npy((784, 2**26)))
    refused(tmp_path / "huge.npz", "array 1.W has shape \\(784, 67108864\\), the spec needs")


def test_spec_errors_are_one_line(saved, tmp_path):
    arrays = read_archive(saved)
    arrays["__metadata__"] = np.array('{"spec": ' + "[" * 25_000 + "]" * 25_000 + "}")
    write_archive(tmp_path / "deep.npz", arrays)
    refused(tmp_path / "deep.npz", "not valid JSON")
    message = refused(with_metadata(saved, tmp_path, {"spec": {"layers": []}}), "bad spec")
    assert "Traceback" not in message
