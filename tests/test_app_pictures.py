"""The pages' pictures: digits enlarged pixel for pixel, and the library's one image grid
(digitnet.data.augment.tile) used for weights on white as for augmented digits on grey."""

from __future__ import annotations

import numpy as np

from pages.common.pictures import enlarge, tile


def test_enlarge_makes_blocks_of_a_digit_and_of_a_stack():
    digit = np.array([[0.0, 1.0], [0.5, 0.25]], np.float32)
    picture = enlarge(digit, 3)
    assert picture.dtype == np.uint8 and picture.shape == (6, 6)
    assert (picture[:3, 3:] == 255).all() and (picture[3:, :3] == 128).all()
    stack = enlarge(np.stack([digit, 1 - digit]), 2)
    assert stack.shape == (2, 4, 4)
    np.testing.assert_array_equal(stack[0], enlarge(digit, 2))


def test_tile_lays_out_any_size_and_dtype_on_its_background():
    maps = enlarge(np.random.default_rng(0).random((5, 3, 4)), 2)  # five 6x8 uint8 pictures
    picture = tile(maps, columns=2, gap=1, background=255)
    assert picture.dtype == np.uint8
    assert picture.shape == (3 * 6 + 2, 2 * 8 + 1)
    np.testing.assert_array_equal(picture[7:13, 9:17], maps[3])  # row 1, column 1
    assert (picture[6] == 255).all() and (picture[:, 8] == 255).all()  # the gaps
    assert (picture[14:, 9:] == 255).all()  # the empty sixth cell
