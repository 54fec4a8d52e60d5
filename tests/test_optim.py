import numpy as np
import pytest

from digitnet.errors import DigitnetError
from digitnet.network.optim import SGD, Adam, make_optimizer, schedule_factor


def quadratic_descent(optimizer_name, steps=300, **options):
    """Minimises |w - target|^2 and returns the final distance to the target."""
    target = np.array([[3.0, -2.0], [0.5, 1.0]], np.float32)
    weight = np.zeros((2, 2), np.float32)
    optimizer = make_optimizer(optimizer_name, [weight], **options)
    for _ in range(steps):
        optimizer.step([2 * (weight - target)])
    return float(np.abs(weight - target).max())


@pytest.mark.parametrize("name, lr", [("sgd", 0.1), ("momentum", 0.05), ("adam", 0.05)])
def test_every_optimiser_converges_on_a_quadratic(name, lr):
    assert quadratic_descent(name, lr=lr) < 1e-3


def test_sgd_step_is_exact():
    weight = np.ones(3, np.float32)
    SGD([weight], lr=0.5).step([np.array([1.0, 2.0, -2.0], np.float32)])
    assert np.allclose(weight, [0.5, 0.0, 2.0])


def test_momentum_accumulates_velocity():
    weight = np.zeros(1, np.float32)
    optimizer = SGD([weight], lr=1.0, momentum=0.5)
    optimizer.step([np.ones(1, np.float32)])
    optimizer.step([np.ones(1, np.float32)])
    assert weight[0] == pytest.approx(-(1 + 1.5))


def test_adam_first_step_has_the_size_of_the_learning_rate():
    weight = np.zeros(2, np.float32)
    Adam([weight], lr=0.01).step([np.array([5.0, -0.001], np.float32)])
    assert np.allclose(weight, [-0.01, 0.01], rtol=1e-3)


def test_weight_decay_shrinks_matrices_but_not_biases():
    matrix, bias = np.ones((2, 2), np.float32), np.ones(2, np.float32)
    SGD([matrix, bias], lr=0.1, weight_decay=0.5).step(
        [np.zeros((2, 2), np.float32), np.zeros(2, np.float32)]
    )
    assert np.allclose(matrix, 0.95)
    assert np.allclose(bias, 1.0)


def test_updates_stay_float32():
    weight = np.ones((3, 3), np.float32)
    Adam([weight], lr=0.1, weight_decay=0.01).step([np.ones((3, 3), np.float32)])
    assert weight.dtype == np.float32


def test_schedules():
    assert schedule_factor("constant", 0.7, 3) == 1.0
    assert schedule_factor("step", 0.5, 4, step_size=2, gamma=0.1) == pytest.approx(0.01)
    assert schedule_factor("cosine", 0.0, 0) == pytest.approx(1.0)
    assert schedule_factor("cosine", 0.5, 0) == pytest.approx(0.5)
    assert schedule_factor("cosine", 1.0, 0) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_optimizer("rmsprop", [], lr=0.1), "unknown optimizer"),
        (lambda: make_optimizer("sgd", [], lr=-1), "learning rate"),
        (lambda: make_optimizer("sgd", [], lr=float("nan")), "learning rate"),
        (lambda: make_optimizer("momentum", [], lr=0.1, momentum=1.5), "momentum"),
        (lambda: make_optimizer("adam", [], lr=0.1, weight_decay=-1), "weight decay"),
        (lambda: schedule_factor("linear", 0, 0), "unknown schedule"),
    ],
)
def test_bad_settings_are_clear_errors(call, message):
    with pytest.raises(DigitnetError, match=message):
        call()
