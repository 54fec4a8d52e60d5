"""The network: layers, convolutions, optimisers, the spec that names a network, the model that
runs one, and its weights file. It knows images only by their shape (``digitnet.images``) and
imports nothing else of digitnet but the error type and the atomic file write."""
