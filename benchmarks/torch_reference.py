"""The reference for speed: the same network in PyTorch on the CPU, built from a digitnet spec
and started from the same weights, so both sides do exactly the same arithmetic.

PyTorch is a benchmark dependency, never digitnet's: ``pip install -r requirements-bench.txt``
(torch 2.13.0, the CPU build). tests/test_torch_reference.py checks that the twin gives
digitnet's logits, so the benchmarks time the same work on both sides.
"""

from __future__ import annotations

import sys

import numpy as np

from digitnet.network.model import Model

try:
    import torch
    from torch import nn
except ImportError:  # the scripts say what to do instead of failing with a traceback
    sys.exit("PyTorch is needed for this benchmark: pip install -r requirements-bench.txt")


def torch_model(model: Model) -> nn.Sequential:
    """An nn.Sequential for a digitnet model with dense, activation, dropout, flatten, conv2d,
    maxpool2d and batchnorm layers, holding copies of its current weights. It takes
    (n, 1, 28, 28) batches: convolutions run in NCHW, PyTorch's native layout."""
    modules: list[nn.Module] = []
    for spec, layer in zip(model.spec["layers"], model.layers):
        kind = spec["type"]
        if kind == "dense":
            linear = nn.Linear(*layer.params["W"].shape)
            linear.weight.data = torch.from_numpy(layer.params["W"].T.copy())
            linear.bias.data = torch.from_numpy(layer.params["b"].copy())
            modules.append(linear)
        elif kind == "conv2d":
            modules.append(torch_conv(layer))
        elif kind == "maxpool2d":
            modules.append(nn.MaxPool2d(layer.size))
        elif kind == "batchnorm":
            modules.append(torch_batchnorm(layer))
        elif kind == "flatten":
            # digitnet flattens NHWC; permute so the dense weights line up with the same pixels.
            modules += [Permute(0, 2, 3, 1), nn.Flatten()]
        else:
            modules.append(
                {
                    "relu": nn.ReLU(),
                    "leaky_relu": nn.LeakyReLU(spec.get("alpha", 0.01)),
                    "tanh": nn.Tanh(),
                    "sigmoid": nn.Sigmoid(),
                    "dropout": nn.Dropout(spec.get("rate", 0.5)),
                }[kind]
            )
    return nn.Sequential(*modules)


def torch_conv(layer) -> nn.Module:
    kernel = layer.params["W"]  # (kh, kw, in, out): digitnet's layout
    kh, kw, channels_in, filters = kernel.shape
    top, bottom, left, right = layer.padding  # 'same' can pad one pixel more at the end
    symmetric = (top, left) == (bottom, right)
    padding = (top, left) if symmetric else 0
    conv = nn.Conv2d(channels_in, filters, (kh, kw), stride=layer.stride, padding=padding)
    conv.weight.data = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
    conv.bias.data = torch.from_numpy(layer.params["b"].copy())
    return conv if symmetric else nn.Sequential(nn.ZeroPad2d((left, right, top, bottom)), conv)


def torch_batchnorm(layer) -> nn.Module:
    features = layer.params["gamma"].shape[0]
    kind = nn.BatchNorm1d if len(layer.input_shape) == 1 else nn.BatchNorm2d
    norm = kind(features, eps=layer.eps, momentum=1 - layer.momentum)
    norm.weight.data = torch.from_numpy(layer.params["gamma"].copy())
    norm.bias.data = torch.from_numpy(layer.params["beta"].copy())
    norm.running_mean.data = torch.from_numpy(layer.state["running_mean"].copy())
    norm.running_var.data = torch.from_numpy(layer.state["running_var"].copy())
    return norm


class Permute(nn.Module):
    def __init__(self, *order: int) -> None:
        super().__init__()
        self.order = order

    def forward(self, x):
        return x.permute(*self.order)


def torch_train_step(net: nn.Sequential, optimizer, x: np.ndarray, y: np.ndarray) -> float:
    optimizer.zero_grad(set_to_none=True)
    images = torch.from_numpy(x).reshape(len(x), 1, 28, 28)
    loss = nn.functional.cross_entropy(net(images), torch.from_numpy(y))
    loss.backward()
    optimizer.step()
    return loss.item()
