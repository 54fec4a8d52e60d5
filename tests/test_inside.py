import threading

import numpy as np
import pytest

from digitnet import Model
from digitnet.analysis.inside import (
    DigitIndex,
    after_each_convolution,
    feature_maps,
    saliency,
    strongest_units,
)
from digitnet.errors import DigitnetError
from tests.gradcheck import numeric_gradient, relative_error

SMALL_CNN = {
    "layers": [
        {"type": "conv2d", "filters": 3, "kernel": 5},
        {"type": "maxpool2d", "size": 2},
        {"type": "batchnorm"},
        {"type": "relu"},
        {"type": "flatten"},
        {"type": "dense", "units": 16},
        {"type": "relu"},
        {"type": "dropout", "rate": 0.5},
        {"type": "dense", "units": 10},
    ]
}


def in_float64(model: Model) -> Model:
    """The same model computing in float64, with biases and batch norm parameters and
    statistics that are not their initial zeros and ones."""
    rng = np.random.default_rng(5)
    for layer in model.layers:
        for name, value in layer.params.items():
            if name != "W":
                value = value + rng.normal(0, 0.1, value.shape)
            layer.params[name] = value.astype(np.float64)
        if layer.state:
            layer.state["running_mean"] = rng.normal(0, 0.2, layer.state["running_mean"].shape)
            layer.state["running_var"] = rng.uniform(0.5, 1.5, layer.state["running_var"].shape)
    return model


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 28, 28))


@pytest.mark.parametrize("spec", ["mlp:32,16", SMALL_CNN])
def test_input_gradient_matches_finite_differences(spec):
    model = in_float64(Model(spec, seed=1))
    x, classes = images(2), np.array([3, 7])

    def chosen_logits() -> float:
        return float(model.logits(x)[np.arange(2), classes].sum())

    analytic = model.input_gradient(x, classes)
    assert analytic.shape == (2, 28, 28) and analytic.dtype == np.float64
    assert (np.abs(analytic) > 1e-3).mean() > 0.5  # most pixels matter: the check means something
    assert relative_error(analytic, numeric_gradient(chosen_logits, x)) < 1e-6


def test_input_gradient_rejects_bad_classes():
    model = Model("mlp:8")
    with pytest.raises(DigitnetError, match="one integer class per image"):
        model.input_gradient(images(2), np.array([1]))
    with pytest.raises(DigitnetError, match="from 0 to 10"):
        model.input_gradient(images(1), np.array([11]))


def test_inspection_never_writes_to_the_model():
    """A model shared by sessions, or being trained, keeps its own layers' state untouched."""
    model = Model(SMALL_CNN)
    before = [dict(vars(layer)) for layer in model.layers]
    grads_before = [{k: v.copy() for k, v in layer.grads.items()} for layer in model.layers]
    model.input_gradient(images(3).astype(np.float32), np.array([0, 1, 2]))
    model.activations(images(3))
    for layer, attributes, grads in zip(model.layers, before, grads_before):
        assert vars(layer).keys() == attributes.keys()
        assert all(vars(layer)[key] is value for key, value in attributes.items())
        assert all(np.array_equal(layer.grads[k], v) for k, v in grads.items())
    assert model.layers[0].needs_input_grad is False


def test_concurrent_inspection_gives_the_sequential_results():
    model = Model(SMALL_CNN, seed=2)
    batches = [images(4, seed).astype(np.float32) for seed in range(6)]
    expected = [model.input_gradient(x, np.arange(4)) for x in batches]
    results: dict[int, list[np.ndarray]] = {}

    def inspect(index: int) -> None:
        results[index] = [model.input_gradient(batches[index], np.arange(4)) for _ in range(5)] + [
            model.activations(batches[index])[-1][1]
        ]
        model.predict(batches[(index + 1) % 6])  # predictions run alongside

    threads = [threading.Thread(target=inspect, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, batch in enumerate(batches):
        *gradients, logits = results[index]
        assert all(np.array_equal(g, expected[index]) for g in gradients)
        assert np.array_equal(logits, model.logits(batch))


def test_activations_name_every_layer_and_end_in_the_logits():
    model = Model("cnn")
    x = images(2).astype(np.float32)
    outputs = model.activations(x)
    names = [name for name, _ in outputs]
    assert names[:5] == [
        "conv 1 (32 maps)",
        "max pool 2x2",
        "batch norm",
        "relu",
        "conv 2 (64 maps)",
    ]
    assert "dense 128" in names and names[-1] == "output (11 logits)"
    assert [out.shape[1:] for _, out in outputs] == [layer.output_shape for layer in model.layers]
    assert np.allclose(outputs[-1][1], model.logits(x))
    assert np.array_equal(model.features(x), outputs[-2][1])


def test_saliency_methods_are_signed_scaled_and_repeatable():
    model = Model("mlp:32", seed=3)
    image = np.zeros((28, 28), np.float32)
    image[6:22, 12:16] = 1
    gradient = model.input_gradient(image[None], np.array([4]))[0]
    plain = saliency(model, image, digit=4, method="gradient")
    assert np.allclose(plain, gradient / np.abs(gradient).max())
    on_ink = saliency(model, image, digit=4, method="gradient_x_input")
    assert np.all(on_ink[image == 0] == 0) and np.abs(on_ink).max() == pytest.approx(1)
    smooth = saliency(model, image, digit=4, seed=1)
    assert smooth.min() < 0 < smooth.max() and np.abs(smooth).max() == pytest.approx(1)
    assert np.array_equal(smooth, saliency(model, image, digit=4, seed=1))
    assert np.allclose(saliency(model, image, digit=4, noise=0.0), plain, atol=1e-6)
    with pytest.raises(DigitnetError, match="unknown saliency method"):
        saliency(model, image, method="occlusion")
    with pytest.raises(DigitnetError, match="float 28x28"):
        saliency(model, np.zeros((28, 28), np.uint8))


def test_nearest_digits_are_by_cosine_similarity():
    reference = np.random.default_rng(0).random((50, 8)).astype(np.float32)
    drawing = reference[17] * 3  # the same direction, three times the ink
    index = DigitIndex(reference)
    indices, similarity = index.nearest(drawing)
    assert indices[0] == 17 and similarity[0] == pytest.approx(1)
    assert len(indices) == 3 and np.all(np.diff(similarity) <= 0)
    unit = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    assert np.array_equal(indices, np.argsort(-(unit @ unit[17]))[:3])
    with pytest.raises(DigitnetError, match="do not match"):
        index.nearest(np.ones(5))
    with pytest.raises(DigitnetError, match="reference features"):
        DigitIndex(np.ones(5))


def test_feature_maps_share_one_scale_per_layer():
    activation = np.zeros((1, 4, 4, 3), np.float32)
    activation[0, :, :, 0] = 2.0
    activation[0, 1, 1, 1] = 1.0
    activation[0, :, :, 2] = -1.0
    maps = feature_maps(activation)
    assert maps.shape == (3, 4, 4)
    assert maps[0].min() == 1 and maps[1].max() == 0.5 and maps[2].max() == 0
    with pytest.raises(DigitnetError, match=r"\(h, w, k\)"):
        feature_maps(np.zeros((4, 4)))


def test_strongest_units_show_their_incoming_weights():
    model = Model("mlp:32", seed=4)
    image = images(1)[0].astype(np.float32)
    units, activity, pictures = strongest_units(model, image, count=5)
    hidden = model.activations(image[None])[2][1][0]  # after the first relu
    assert np.array_equal(units, np.argsort(-hidden, kind="stable")[:5])
    assert np.all(np.diff(activity) <= 0)
    weights = model.layers[1].params["W"][:, units[0]].reshape(28, 28)
    assert np.allclose(pictures[0], weights / np.abs(weights).max())
    with pytest.raises(DigitnetError, match="starts with dense"):
        strongest_units(Model(SMALL_CNN), image)


def test_feature_maps_are_taken_after_each_convolutions_activation():
    assert after_each_convolution(Model("cnn")) == [3, 7]  # conv, pool, batch norm, relu
    no_activation = {"layers": [*SMALL_CNN["layers"][:2], *SMALL_CNN["layers"][4:]]}
    assert after_each_convolution(Model(no_activation)) == [0]
    assert after_each_convolution(Model("mlp:8")) == []
