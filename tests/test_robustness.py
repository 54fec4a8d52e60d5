import numpy as np
import pytest

from digitnet import load_model
from digitnet.analysis.robustness import (
    DISTORTIONS,
    NEUTRAL,
    noisy,
    robustness_curves,
    rotated,
    scaled,
    shifted,
    thickened,
)
from digitnet.errors import DigitnetError


def dots(count: int, row: int, column: int) -> np.ndarray:
    images = np.zeros((count, 28, 28), np.float32)
    images[:, row, column] = 1
    return images


def ink_centre(image: np.ndarray) -> np.ndarray:
    rows, columns = np.mgrid[0:28, 0:28]
    return np.array([(image * rows).sum(), (image * columns).sum()]) / image.sum()


def test_rotation_turns_even_digits_anticlockwise_and_odd_ones_clockwise():
    # Pixel (13, 19) is 5.5 pixels right of the centre (13.5, 13.5) and 0.5 above it.
    turned = rotated(dots(2, 13, 19), 90)
    assert turned[0, 8, 13] == pytest.approx(1)  # now 5.5 above, 0.5 left: anticlockwise
    assert turned[1, 19, 14] == pytest.approx(1)  # clockwise
    assert np.array_equal(rotated(dots(1, 3, 4), 0), dots(1, 3, 4))


def test_shift_moves_digits_right_down_left_and_up_in_turn():
    moved = shifted(dots(4, 10, 10), 3)
    for image, (row, column) in zip(moved, [(10, 13), (13, 10), (10, 7), (7, 10)]):
        assert image[row, column] == pytest.approx(1) and image.sum() == pytest.approx(1)


def test_scale_grows_the_ink_about_the_centre():
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 10:18, 10:18] = 1  # a square centred on the image's centre
    bigger, smaller = scaled(image, 1.5), scaled(image, 0.5)
    assert bigger.sum() == pytest.approx(image.sum() * 1.5**2, rel=0.05)
    assert smaller.sum() == pytest.approx(image.sum() * 0.5**2, rel=0.05)
    assert np.allclose(ink_centre(bigger[0]), ink_centre(image[0]))


def test_thickness_and_noise_are_exact_and_repeatable():
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 5:20, 13] = 1
    assert thickened(image, 1.0).sum() > 2.5 * image.sum()
    assert thickened(image, -1.0).sum() < 0.1 * image.sum()
    assert thickened(image, 0) is image
    speckled = noisy(image, 0.3, seed=1)
    assert speckled.min() >= 0 and speckled.max() <= 1
    assert np.array_equal(speckled, noisy(image, 0.3, seed=1))
    assert not np.array_equal(speckled, noisy(image, 0.3, seed=2))


def test_curves_start_at_the_clean_accuracy_and_fall_with_strong_distortions(
    mnist, fixture_model_file
):
    model = load_model(fixture_model_file)
    images, labels = mnist.test_images[:300], mnist.test_labels[:300]
    curves = robustness_curves(model, images, labels)
    clean = float((model.predict(images.astype(np.float32) / 255) == labels).mean())
    assert list(curves) == list(DISTORTIONS)
    for name, points in curves.items():
        assert [value for value, _ in points] == list(DISTORTIONS[name][1])
        assert dict(points)[NEUTRAL[name]] == clean
        assert all(0 <= accuracy <= 1 for _, accuracy in points)
    for name, value in [("rotation", 60), ("shift", 6), ("scale", 0.5), ("noise", 0.5)]:
        assert dict(curves[name])[value] < clean - 0.2, name


def test_curves_refuse_mismatched_labels():
    with pytest.raises(DigitnetError, match="n labels"):
        robustness_curves(None, np.zeros((3, 28, 28), np.uint8), np.zeros(2))
