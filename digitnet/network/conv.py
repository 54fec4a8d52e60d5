"""Convolutional layers: Conv2D, MaxPool2D and BatchNorm, in NumPy, following the layer protocol
of ``digitnet.network.layers``.

Images are channels-last (NHWC) inside the network: a (n, 28, 28) batch is read as one channel
without a copy, a window of a channels-last image is contiguous along (kernel column, channel),
and a convolution becomes one matrix product whose output is already NHWC, so no transposes.

A convolution is ``im2col``: a strided view lists every (kh, kw, C) window, one copy lays them
out as the rows of a matrix, and BLAS does the rest. Its gradient for the input sums the
columns back over the kernel's kh*kw offsets into a padded buffer (no ``np.add.at``).

While training, the large scratch arrays (padded input, columns, outputs, gradient shares) are
reused from one batch to the next: a fresh 26 MB array costs thousands of page faults every
time. So a training-mode output is only valid until the next training batch; inference
allocates afresh, and forward never reads back what it stores, so threads may share a model
for predictions.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from digitnet.errors import DigitnetError
from digitnet.network.layers import Layer, Shape, init_weights


def as_channels_last(shape: Shape, layer: str) -> Shape:
    """(H, W) is one channel; (H, W, C) is C channels."""
    if len(shape) == 2:
        return (*shape, 1)
    if len(shape) == 3:
        return tuple(shape)
    raise DigitnetError(
        f"{layer} needs images of shape (H, W) or (H, W, C), got {shape}: "
        "put it before any flatten or dense layer"
    )


def pair(value: int | tuple[int, int] | list[int], name: str) -> tuple[int, int]:
    both = (value, value) if isinstance(value, int) else value
    pair_ = tuple(both) if isinstance(both, list | tuple) else ()
    whole = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair_)
    if len(pair_) != 2 or not whole:
        raise DigitnetError(f"{name} must be a positive integer or a pair of them, got {value!r}")
    return pair_


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same': ceil(size / stride) outputs, any odd padding pixel at the end."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Scratch:
    """Arrays reused between training batches, by name; a new shape or dtype allocates anew."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: Shape, dtype: np.dtype, zero: bool = False) -> np.ndarray:
        array = self.arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
            self.arrays[name] = array
        elif zero:
            array.fill(0)
        return array


def fresh(name: str, shape: Shape, dtype: np.dtype, zero: bool = False) -> np.ndarray:
    """Outside training nothing is reused, so concurrent predictions never share memory."""
    return np.zeros(shape, dtype) if zero else np.empty(shape, dtype)


class Conv2D(Layer):
    """A 2-D convolution (cross-correlation, as in every framework) with a bias per filter.

    ``padding``: pixels of zeros on each side, or ``"same"`` (output size = ceil(input / stride)).
    Kernel ``W`` has shape (kh, kw, C, filters): the order of a channels-last window.
    """

    def __init__(
        self,
        input_shape: Shape,
        rng: np.random.Generator,
        filters: int,
        kernel: int | tuple[int, int] = 3,
        stride: int = 1,
        padding: int | str = 0,
        init: str = "he",
    ) -> None:
        super().__init__(input_shape)
        height, width, channels = as_channels_last(self.input_shape, "conv2d")
        self.kernel = pair(kernel, "conv2d kernel")
        if not isinstance(stride, int) or stride <= 0:
            raise DigitnetError(f"conv2d stride must be a positive integer, got {stride!r}")
        if not isinstance(filters, int) or filters <= 0:
            raise DigitnetError(f"conv2d filters must be a positive integer, got {filters!r}")
        self.stride = stride
        kh, kw = self.kernel
        if padding == "same":
            self.padding = (*same_padding(height, kh, stride), *same_padding(width, kw, stride))
        elif isinstance(padding, int) and padding >= 0:
            self.padding = (padding,) * 4
        else:
            raise DigitnetError(
                f"conv2d padding must be an integer >= 0 or 'same', got {padding!r}"
            )
        top, bottom, left, right = self.padding
        self.padded_shape = (height + top + bottom, width + left + right, channels)
        out_height = (self.padded_shape[0] - kh) // stride + 1
        out_width = (self.padded_shape[1] - kw) // stride + 1
        if out_height <= 0 or out_width <= 0:
            raise DigitnetError(
                f"conv2d kernel {self.kernel} is larger than its padded input "
                f"{self.padded_shape[:2]}: use a smaller kernel or more padding"
            )
        self.output_shape = (out_height, out_width, filters)
        fan_in, fan_out = kh * kw * channels, kh * kw * filters
        self.params = {
            "W": init_weights(init, fan_in, fan_out, (kh, kw, channels, filters), rng),
            "b": np.zeros(filters, dtype=np.float32),
        }
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self.scratch = Scratch()

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        n = len(x)
        channels = self.padded_shape[2]
        buffer = self.scratch.get if training else fresh
        top, bottom, left, right = self.padding
        height, width = self.input_shape[:2]
        if any(self.padding):
            padded = buffer("padded", (n, *self.padded_shape), x.dtype, zero=True)
            padded[:, top : top + height, left : left + width] = x.reshape(n, height, width, -1)
        else:
            padded = np.ascontiguousarray(x).reshape(n, *self.padded_shape)
        (kh, kw), out_height, out_width = self.kernel, *self.output_shape[:2]
        sn, sh, sw, sc = padded.strides
        windows = as_strided(
            padded,
            (n, out_height, out_width, kh, kw, channels),
            (sn, sh * self.stride, sw * self.stride, sh, sw, sc),
            writeable=False,
        )
        columns = buffer("columns", windows.shape, x.dtype)
        np.copyto(columns, windows)
        columns = columns.reshape(n * out_height * out_width, kh * kw * channels)
        weights = self.params["W"].reshape(kh * kw * channels, -1)
        out = buffer("out", (n * out_height * out_width, weights.shape[1]), x.dtype)
        np.matmul(columns, weights, out=out)
        out += self.params["b"]
        self.columns = columns if self.keeps(training) else None
        self.training = training
        return out.reshape(n, *self.output_shape)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        n, (kh, kw), (out_height, out_width, filters) = len(grad), self.kernel, self.output_shape
        grad = np.ascontiguousarray(grad).reshape(-1, filters)
        if self.needs_param_grads:
            self.grads["W"] = (self.columns.T @ grad).reshape(self.params["W"].shape)
            self.grads["b"] = column_sums(grad)
        if not self.needs_input_grad:
            return None
        # One product per kernel offset, so that each offset's share of the input gradient is
        # contiguous and the sums into the padded input run over whole rows; a kernel row at a
        # time, so the shares stay small.
        buffer = self.scratch.get if self.training else fresh
        shares = buffer("shares", (kw, len(grad), self.padded_shape[2]), grad.dtype)
        padded = buffer("input_grad", (n, *self.padded_shape), grad.dtype, zero=True)
        height_span, width_span = self.stride * out_height, self.stride * out_width
        for i in range(kh):
            for j in range(kw):
                np.matmul(grad, self.params["W"][i, j].T, out=shares[j])
            for j in range(kw):
                window = padded[
                    :, i : i + height_span : self.stride, j : j + width_span : self.stride
                ]
                window += shares[j].reshape(n, out_height, out_width, -1)
        top, _, left, _ = self.padding
        height, width = self.input_shape[:2]
        return padded[:, top : top + height, left : left + width].reshape(n, *self.input_shape)


class MaxPool2D(Layer):
    """The maximum of each non-overlapping size x size window; rows and columns that do not fill
    a window are dropped (as in PyTorch and Keras).

    Two passes, down the rows of each window and then across its columns, so every comparison
    runs over long stretches of memory. The gradient goes to exactly one maximum per window:
    ties (a blank patch gives the same value everywhere) never count it twice."""

    def __init__(
        self, input_shape: Shape, rng: np.random.Generator | None = None, size: int = 2
    ) -> None:
        super().__init__(input_shape)
        self.image_shape = as_channels_last(self.input_shape, "maxpool2d")
        height, width, channels = self.image_shape
        if not isinstance(size, int) or size < 2:
            raise DigitnetError(f"maxpool2d size must be an integer >= 2, got {size!r}")
        if size > min(height, width):
            raise DigitnetError(f"maxpool2d size {size} is larger than its input {(height, width)}")
        self.size = size
        self.output_shape = (height // size, width // size, *self.input_shape[2:])

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        n, size, (height, width, channels) = len(x), self.size, self.image_shape
        out_height, out_width = self.output_shape[:2]
        rows = x.reshape(n, height, width * channels)[:, : out_height * size]
        rows = rows.reshape(n, out_height, size, width * channels)
        row_max, row_index = max_along(rows, axis=2)
        columns = row_max.reshape(n, out_height, width, channels)[:, :, : out_width * size]
        columns = columns.reshape(n, out_height, out_width, size, channels)
        out, column_index = max_along(columns, axis=3)
        keep = self.keeps(training)
        self.row_index, self.column_index = (row_index, column_index) if keep else (None, None)
        return out.reshape(n, *self.output_shape)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        n, size, (height, width, channels) = len(grad), self.size, self.image_shape
        out_height, out_width = self.output_shape[:2]
        row_grad = np.zeros((n, out_height, width, channels), grad.dtype)
        columns = row_grad[:, :, : out_width * size].reshape(n, out_height, out_width, size, -1)
        grad = grad.reshape(n, out_height, out_width, channels)
        spread_along(grad, self.column_index, columns, axis=3)
        full = np.zeros((n, height, width * channels), grad.dtype)
        rows = full[:, : out_height * size].reshape(n, out_height, size, width * channels)
        row_grad = row_grad.reshape(n, out_height, width * channels)
        spread_along(row_grad, self.row_index, rows, axis=2)
        return full.reshape(n, *self.input_shape)


def part(windows: np.ndarray, k: int, axis: int) -> np.ndarray:
    """A view of ``windows[..., k, ...]`` with ``k`` at ``axis``."""
    return windows[(slice(None),) * axis + (k,)]


def max_along(windows: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """The maximum over one axis, and where it is (the first one, on ties)."""
    first, second = part(windows, 0, axis), part(windows, 1, axis)
    best, index = np.maximum(first, second), (second > first).view(np.uint8)
    for k in range(2, windows.shape[axis]):
        # Arithmetic, not np.where or a masked copy: those branch per element, ten times slower.
        later = (part(windows, k, axis) > best).view(np.uint8)
        np.maximum(index, later * np.uint8(k), out=index)
        np.maximum(best, part(windows, k, axis), out=best)
    return best, index


def spread_along(grad: np.ndarray, index: np.ndarray, out: np.ndarray, axis: int) -> None:
    """Undoes ``max_along`` for a gradient: each value goes back where its maximum came from,
    zero elsewhere."""
    for k in range(out.shape[axis]):
        np.multiply(grad, index == k, out=part(out, k, axis))


class BatchNorm(Layer):
    """Batch normalisation (Ioffe and Szegedy, 2015) per feature of a (features,) input, or per
    channel of an (H, W, C) image ((H, W) is one channel).

    Training normalises with the batch's statistics and keeps running averages of them in
    ``state``; inference uses the running averages, so a prediction never depends on its batch.
    """

    def __init__(
        self,
        input_shape: Shape,
        rng: np.random.Generator | None = None,
        momentum: float = 0.9,
        eps: float = 1e-5,
    ) -> None:
        super().__init__(input_shape)
        if not 0 <= momentum < 1:
            raise DigitnetError(f"batchnorm momentum must be in [0, 1), got {momentum}")
        features = self.input_shape[-1] if len(self.input_shape) in (1, 3) else 1
        self.momentum, self.eps = momentum, eps
        self.params = {
            "gamma": np.ones(features, np.float32),
            "beta": np.zeros(features, np.float32),
        }
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self.state = {
            "running_mean": np.zeros(features, np.float32),
            "running_var": np.ones(features, np.float32),
        }

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        flat = x.reshape(-1, self.params["gamma"].shape[0])
        if training:
            mean = column_sums(flat) / len(flat)
            centred = flat - mean
            var = column_sums(centred * centred) / len(flat)
            # In place: the weights loader fills these very arrays.
            for name, value in (("running_mean", mean), ("running_var", var)):
                self.state[name] *= self.momentum
                self.state[name] += (1 - self.momentum) * value
        else:
            mean, var = self.state["running_mean"], self.state["running_var"]
            centred = flat - mean.astype(x.dtype)
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        normalised = np.multiply(centred, inv_std, out=centred)
        out = normalised * self.params["gamma"]
        out += self.params["beta"]
        keep = self.keeps(training)
        self.normalised, self.inv_std = (normalised, inv_std) if keep else (None, None)
        self.training = training
        return out.reshape(x.shape)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        shape, count = grad.shape, len(self.normalised)
        grad = grad.reshape(self.normalised.shape)
        if self.needs_param_grads or self.training:
            self.grads["beta"] = column_sums(grad)
            self.grads["gamma"] = column_sums(grad * self.normalised)
        scale = self.params["gamma"] * self.inv_std
        out = grad * scale
        if self.training:  # the batch's mean and variance depend on every input as well
            out -= self.grads["beta"] * (scale / count)
            out -= self.normalised * (self.grads["gamma"] * (scale / count))
        return out.reshape(shape)


def column_sums(matrix: np.ndarray) -> np.ndarray:
    """Sums of the columns of a tall matrix, as a matrix-vector product: numpy's sum(axis=0) is
    several times slower when the rows are short (a few dozen channels)."""
    return np.ones(len(matrix), matrix.dtype) @ matrix
