"""Conv2D, MaxPool2D and BatchNorm: gradients against finite differences (float64 through the
same code), forward passes against the definition, and the "cnn" preset end to end."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from digitnet.errors import DigitnetError
from digitnet.network.conv import BatchNorm, Conv2D, MaxPool2D
from digitnet.network.layers import Dense, softmax_cross_entropy
from digitnet.network.model import Model
from digitnet.network.optim import Adam
from digitnet.network.spec import cnn_spec
from digitnet.network.weights import load_model, save_model
from tests.gradcheck import check_layer


def reference_conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int, pads):
    """The definition, one output pixel at a time."""
    top, bottom, left, right = pads
    x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw, _, filters = kernel.shape
    out_h = (x.shape[1] - kh) // stride + 1
    out_w = (x.shape[2] - kw) // stride + 1
    out = np.zeros((len(x), out_h, out_w, filters))
    for i, j in itertools.product(range(out_h), range(out_w)):
        window = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
        out[:, i, j] = np.tensordot(window, kernel, axes=3) + bias
    return out


CONV_CASES = [
    # input shape, filters, kernel, stride, padding
    ((7, 9), 3, 3, 1, 0),
    ((7, 9), 2, 3, 2, "same"),
    ((7, 9, 2), 3, 3, 1, "same"),
    ((7, 9, 2), 2, (3, 2), 2, 0),
    ((8, 7, 3), 2, 5, 1, 2),
    ((9, 8, 2), 4, 4, 2, 2),
    ((6, 6, 2), 2, 4, 1, "same"),
]


@pytest.mark.parametrize(("shape", "filters", "kernel", "stride", "padding"), CONV_CASES)
def test_conv_gradients_match_finite_differences(shape, filters, kernel, stride, padding):
    rng = np.random.default_rng(0)
    layer = Conv2D(shape, rng, filters, kernel, stride, padding)
    layer.params["b"][:] = rng.standard_normal(filters)
    check_layer(layer, rng.standard_normal((2, *shape)), training=True)


@pytest.mark.parametrize(("shape", "filters", "kernel", "stride", "padding"), CONV_CASES)
@pytest.mark.parametrize("training", [True, False])
def test_conv_forward_matches_the_definition(shape, filters, kernel, stride, padding, training):
    rng = np.random.default_rng(0)
    layer = Conv2D(shape, rng, filters, kernel, stride, padding)
    layer.params["b"][:] = rng.standard_normal(filters)
    x = rng.standard_normal((3, *shape)).astype(np.float32)
    out = layer.forward(x, training)
    expected = reference_conv(
        x.reshape(3, *shape[:2], -1), layer.params["W"], layer.params["b"], stride, layer.padding
    )
    assert out.dtype == np.float32
    assert out.shape == (3, *layer.output_shape) == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_same_padding_keeps_the_size_and_shrinks_it_by_the_stride():
    rng = np.random.default_rng(0)
    assert Conv2D((28, 28), rng, 4, 5, padding="same").output_shape == (28, 28, 4)
    assert Conv2D((7, 9, 2), rng, 4, 3, stride=2, padding="same").output_shape == (4, 5, 4)
    assert Conv2D((28, 28), rng, 4, 5).output_shape == (24, 24, 4)


def test_first_layer_can_skip_the_input_gradient_without_changing_the_others():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 10, 10)).astype(np.float32)
    grad = rng.standard_normal((4, 6, 6, 3)).astype(np.float32)
    full = Conv2D((10, 10), np.random.default_rng(5), 3, 5)
    skipping = Conv2D((10, 10), np.random.default_rng(5), 3, 5)
    skipping.needs_input_grad = False
    full.forward(x, True)
    skipping.forward(x, True)
    assert full.backward(grad) is not None
    assert skipping.backward(grad) is None
    for name in full.grads:
        np.testing.assert_array_equal(full.grads[name], skipping.grads[name])


@pytest.mark.parametrize(
    "make",
    [
        lambda: Conv2D((10, 10, 2), np.random.default_rng(5), 3, 5),
        lambda: BatchNorm((10, 10, 2)),
        lambda: Dense((200,), np.random.default_rng(5), units=7),
    ],
)
def test_skipping_the_parameter_gradients_keeps_the_input_gradient(make):
    """For a saliency map, only d/d(input) is wanted: grads stay untouched, the result is the
    same."""
    rng = np.random.default_rng(1)
    full, skipping = make(), make()
    skipping.needs_param_grads = False
    full.keep_for_backward = skipping.keep_for_backward = True  # a backward in inference mode
    x = rng.standard_normal((3, *full.input_shape)).astype(np.float32)
    grad = rng.standard_normal((3, *full.output_shape)).astype(np.float32)
    before = {name: value.copy() for name, value in skipping.grads.items()}
    full.forward(x, False)
    skipping.forward(x, False)
    np.testing.assert_array_equal(full.backward(grad.copy()), skipping.backward(grad.copy()))
    for name, value in before.items():
        np.testing.assert_array_equal(skipping.grads[name], value)
        assert not np.array_equal(full.grads[name], value)


def test_inference_outputs_are_not_overwritten_by_the_next_call():
    rng = np.random.default_rng(0)
    layer = Conv2D((8, 8), rng, 2, 3, padding=1)
    first_input = rng.standard_normal((2, 8, 8)).astype(np.float32)
    first = layer.forward(first_input)
    expected = first.copy()
    layer.forward(rng.standard_normal((2, 8, 8)).astype(np.float32))
    np.testing.assert_array_equal(first, expected)


def test_training_batches_of_changing_size_reuse_buffers_safely():
    rng = np.random.default_rng(0)
    layer = Conv2D((8, 8, 2), rng, 3, 3, padding="same")
    for n in (5, 2, 5):
        x = rng.standard_normal((n, 8, 8, 2)).astype(np.float32)
        out = layer.forward(x, training=True)
        expected = reference_conv(x, layer.params["W"], layer.params["b"], 1, layer.padding)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
        assert layer.backward(np.ones_like(out)).shape == x.shape


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"filters": 4, "kernel": 3, "padding": "valid"}, "padding"),
        ({"filters": 4, "kernel": 3, "stride": 0}, "stride"),
        ({"filters": 0, "kernel": 3}, "filters"),
        ({"filters": 4, "kernel": (3, 3, 3)}, "kernel"),
        ({"filters": 4, "kernel": 9}, "larger than"),
    ],
)
def test_conv_rejects_bad_options_with_a_clear_message(options, message):
    with pytest.raises(DigitnetError, match=message):
        Conv2D((8, 8), np.random.default_rng(0), **options)


def test_conv_after_flatten_is_rejected():
    with pytest.raises(DigitnetError, match="before any flatten"):
        Conv2D((784,), np.random.default_rng(0), 4, 3)


@pytest.mark.parametrize(("shape", "size"), [((6, 8, 3), 2), ((7, 9, 2), 2), ((7, 9), 3)])
def test_maxpool_gradients_match_finite_differences(shape, size):
    rng = np.random.default_rng(0)
    layer = MaxPool2D(shape, rng, size)
    x = rng.standard_normal((2, *shape))  # continuous values: no ties, so differentiable
    check_layer(layer, x, training=True)


@pytest.mark.parametrize(("shape", "size"), [((6, 8, 3), 2), ((7, 9, 2), 3)])
def test_maxpool_forward_is_the_window_maximum(shape, size):
    rng = np.random.default_rng(0)
    layer = MaxPool2D(shape, rng, size)
    x = rng.standard_normal((3, *shape)).astype(np.float32)
    out = layer.forward(x)
    out_h, out_w = shape[0] // size, shape[1] // size
    assert out.shape == (3, out_h, out_w, shape[2]) == (3, *layer.output_shape)
    for i, j in itertools.product(range(out_h), range(out_w)):
        window = x[:, i * size : (i + 1) * size, j * size : (j + 1) * size]
        np.testing.assert_array_equal(out[:, i, j], window.max(axis=(1, 2)))


def test_maxpool_gives_a_tied_window_its_gradient_once():
    layer = MaxPool2D((4, 6, 2), None, 2)
    x = np.zeros((1, 4, 6, 2), np.float32)  # a blank patch: every window is one big tie
    x[0, 0, 0, 0] = x[0, 1, 1, 0] = 3.0  # and a tie of two maxima
    layer.forward(x, training=True)
    grad = np.arange(1, 13, dtype=np.float32).reshape(1, 2, 3, 2)
    dx = layer.backward(grad)
    windows = dx.reshape(2, 2, 3, 2, 2).transpose(0, 2, 4, 1, 3).reshape(2, 3, 2, 4)
    assert (np.count_nonzero(windows, axis=-1) == 1).all()
    np.testing.assert_array_equal(windows.sum(axis=-1), grad[0])


@pytest.mark.parametrize("shape", [(5,), (4, 5, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients_match_finite_differences(shape, training):
    rng = np.random.default_rng(0)
    layer = BatchNorm(shape, rng)
    layer.params["gamma"][:] = rng.uniform(0.5, 2, shape[-1])
    layer.params["beta"][:] = rng.standard_normal(shape[-1])
    layer.state["running_mean"][:] = rng.standard_normal(shape[-1])
    layer.state["running_var"][:] = rng.uniform(0.5, 2, shape[-1])
    check_layer(layer, 2 + 3 * rng.standard_normal((6, *shape)), training)


def test_batchnorm_normalises_while_training_and_learns_the_running_statistics():
    rng = np.random.default_rng(0)
    layer = BatchNorm((3, 3, 4), rng, momentum=0.5)
    running_mean = layer.state["running_mean"]
    x = (5 + 2 * rng.standard_normal((64, 3, 3, 4))).astype(np.float32)
    for _ in range(30):
        out = layer.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-3)
    assert layer.state["running_mean"] is running_mean  # in place: the weights loader fills it
    np.testing.assert_allclose(running_mean, x.mean(axis=(0, 1, 2)), rtol=1e-4)
    np.testing.assert_allclose(layer.forward(x[:1]), out[:1], atol=1e-3)


@pytest.mark.parametrize("options", [{}, {"padding": "same", "batchnorm": False}])
def test_cnn_preset_learns_and_survives_a_weights_file(tmp_path, options):
    model = Model(cnn_spec(**options), seed=3)
    rng = np.random.default_rng(0)
    images = rng.random((16, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, 16)
    optimizer = Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(25):
        loss, grad = softmax_cross_entropy(model.forward(images, training=True), labels)
        model.backward(grad)
        optimizer.step(model.gradients())
        losses.append(loss)
    assert losses[-1] < 0.5 * losses[0]
    loaded = load_model(save_model(model, tmp_path / "cnn.npz"))
    np.testing.assert_array_equal(loaded.predict_proba(images), model.predict_proba(images))


def test_cnn_is_a_named_preset_built_as_the_issue_describes():
    model = Model("cnn")
    kinds = [layer["type"] for layer in model.spec["layers"]]
    assert kinds.count("conv2d") == kinds.count("maxpool2d") == kinds.count("batchnorm") == 2
    assert kinds[-4:] == ["dense", "relu", "dropout", "dense"]
    assert model.layers[-4].output_shape == (128,)
    assert model.layers[0].needs_input_grad is False  # its input is data
    assert Model("cnn:256").layers[-4].output_shape == (256,)
    convs = [layer for layer in model.layers if isinstance(layer, Conv2D)]
    assert [conv.output_shape[-1] for conv in convs] == [32, 64]
    assert all(conv.kernel == (5, 5) for conv in convs)
    assert model.predict_proba(np.zeros((2, 784), np.float32)).shape == (2, 10)
