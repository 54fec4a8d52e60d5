"""Canvas and photo preprocessing: digits drawn with PIL the way the canvas draws them (round brush,
anti-aliased) must come out as MNIST digits do, whatever the background, size, place or brush."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitnet.data import preprocess
from digitnet.data.preprocess import (
    DIGIT_BOX,
    INK_LEVEL,
    MAX_IMAGE_BYTES,
    SUPERSAMPLE,
    canvas_to_mnist,
    image_to_mnist,
    read_image_file,
    stroke_width,
)
from digitnet.errors import DigitnetError

SIZE = 280
# Stroke paths of three digits in a unit box (x, y in [-0.5, 0.5]).
SHAPES = {
    "2": [(-0.4, -0.25), (-0.15, -0.5), (0.2, -0.5), (0.4, -0.25), (0.3, 0.05), (-0.5, 0.5)]
    + [(0.5, 0.5)],
    "7": [(-0.5, -0.5), (0.5, -0.5), (0.1, 0.0), (-0.1, 0.5)],
    "4": [(0.15, 0.5), (0.15, -0.5), (-0.5, 0.2), (0.5, 0.2)],
}
MODES = {
    # name: (background RGBA, ink RGBA)
    "black": ((0, 0, 0, 255), (255, 255, 255, 255)),
    "transparent": ((0, 0, 0, 0), (0, 0, 0, 255)),  # black ink: the ink is only in the alpha
    "white": ((255, 255, 255, 255), (0, 0, 0, 255)),
    "coloured": ((250, 240, 180, 255), (30, 60, 200, 255)),
}


def draw(
    digit: str = "2",
    height: float = 0.6,
    centre: tuple[float, float] = (0.5, 0.5),
    brush: int = 18,
    mode: str = "black",
    size: int = SIZE,
) -> np.ndarray:
    """A canvas as streamlit-drawable-canvas returns it: (size, size, 4) uint8, the digit's ink
    `height` of the canvas tall (brush included), drawn 4x larger and reduced (anti-aliasing)."""
    scale = 4
    background, ink = MODES[mode]
    image = Image.new("RGBA", (size * scale, size * scale), background)
    pen = ImageDraw.Draw(image)
    span = height * size - brush  # the brush adds half its width at both ends
    points = [
        ((centre[0] * size + x * span * 0.7) * scale, (centre[1] * size + y * span) * scale)
        for x, y in SHAPES[digit]
    ]
    radius = brush * scale / 2
    pen.line(points, fill=ink, width=brush * scale, joint="curve")
    for x, y in (points[0], points[-1]):
        pen.ellipse([x - radius, y - radius, x + radius, y + radius], fill=ink)
    return np.asarray(image.resize((size, size), Image.BOX))


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    index = np.arange(image.shape[0])
    mass = image.sum()
    return float(image.sum(axis=1) @ index / mass), float(image.sum(axis=0) @ index / mass)


def ink_box(image: np.ndarray, level: float = 0.3) -> tuple[int, int]:
    rows = np.flatnonzero((image > level).any(axis=1))
    cols = np.flatnonzero((image > level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    ("digit", "height", "centre", "brush"),
    [
        ("2", 0.45, (0.3, 0.3), 10),
        ("2", 0.85, (0.5, 0.5), 26),
        ("7", 0.6, (0.65, 0.6), 18),
        ("4", 0.5, (0.7, 0.72), 14),
        ("7", 0.3, (0.2, 0.8), 6),  # small, thin, in a corner
    ],
)
def test_output_is_laid_out_like_mnist(mode, digit, height, centre, brush):
    image = canvas_to_mnist(draw(digit, height, centre, brush, mode))
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)
    assert max(ink_box(image)) in (19, 20, 21)  # the longer side is scaled to 20 px
    centre_y, centre_x = centre_of_mass(image)
    assert abs(centre_y - 14.0) < 0.5 and abs(centre_x - 14.0) < 0.5
    assert (image[:2] == 0).all() and (image[:, :2] == 0).all()  # a frame of background


@pytest.mark.parametrize("digit", list(SHAPES))
def test_every_background_mode_gives_the_same_image(digit):
    reference = canvas_to_mnist(draw(digit, mode="black"))
    for mode in MODES:
        assert np.abs(canvas_to_mnist(draw(digit, mode=mode)) - reference).max() < 0.02, mode


def test_position_does_not_matter():
    reference = canvas_to_mnist(draw("2", centre=(0.5, 0.5)))
    for centre in [(0.32, 0.3), (0.71, 0.66), (0.3, 0.693)]:
        moved = canvas_to_mnist(draw("2", centre=centre))
        assert np.abs(moved - reference).mean() < 0.02, centre


def test_size_does_not_matter_when_the_brush_scales_with_it():
    reference = canvas_to_mnist(draw("7", height=0.85, brush=24))
    smaller = canvas_to_mnist(draw("7", height=0.45, brush=13))
    assert np.abs(smaller - reference).mean() < 0.03


def test_canvas_size_does_not_matter():
    reference = canvas_to_mnist(draw("4", brush=18))
    double = canvas_to_mnist(draw("4", brush=36, size=2 * SIZE))  # a high-DPI canvas
    assert np.abs(double - reference).mean() < 0.02


def test_strokes_come_out_about_as_wide_as_mnist_strokes_whatever_the_brush(monkeypatch):
    """A 4 px brush on a tall digit would shrink to a hairline, a 44 px one on a short digit to
    a blob: both are brought towards the ink weight of a normal drawing (the blob only down to
    STROKE_RANGE's upper end, about 1.8 times a normal stroke)."""
    normal = canvas_to_mnist(draw("2", height=0.65, brush=18)).sum()
    hairline = canvas_to_mnist(draw("2", height=0.85, brush=4)).sum()
    blob = canvas_to_mnist(draw("2", height=0.45, brush=44)).sum()
    assert 0.75 * normal < hairline < 1.25 * normal
    assert 0.75 * normal < blob < 1.85 * normal
    monkeypatch.setattr(preprocess, "STROKE_RANGE", (0.0, np.inf))  # scaling alone
    assert canvas_to_mnist(draw("2", height=0.85, brush=4)).sum() < 0.6 * normal
    assert canvas_to_mnist(draw("2", height=0.45, brush=44)).sum() > 2.2 * normal


def test_blank_and_near_blank_canvases_are_none():
    transparent = np.zeros((SIZE, SIZE, 4), np.uint8)
    assert canvas_to_mnist(transparent) is None
    for colour in (0, 255, 128):
        opaque = np.full((SIZE, SIZE, 4), colour, np.uint8)
        opaque[..., 3] = 255
        assert canvas_to_mnist(opaque) is None
    dot = Image.new("RGBA", (SIZE, SIZE))
    ImageDraw.Draw(dot).ellipse([100, 100, 126, 126], fill=(0, 0, 0, 255))  # widest brush's click
    assert canvas_to_mnist(np.asarray(dot)) is None
    specks = transparent.copy()
    rng = np.random.default_rng(0)
    specks[rng.integers(0, SIZE, 40), rng.integers(0, SIZE, 40), 3] = 255
    assert canvas_to_mnist(specks) is None
    faint = np.zeros((SIZE, SIZE, 4), np.uint8)
    faint[..., 3] = 255
    faint[60:220, 130:145, :3] = 8  # barely different from the black background
    assert canvas_to_mnist(faint) is None


def test_smallest_real_digits_are_not_blank():
    assert canvas_to_mnist(draw("7", height=0.15, brush=8)) is not None


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((SIZE, SIZE, 4), np.float32),
        np.full((SIZE, SIZE, 4), np.nan),
        np.zeros((SIZE, SIZE, 3), np.uint8),
        np.zeros((SIZE, SIZE), np.uint8),
        np.zeros((0, 0, 4), np.uint8),
        [[0, 0, 0, 0]],
    ],
)
def test_bad_canvases_raise_one_line_errors(bad):
    with pytest.raises(DigitnetError) as error:
        canvas_to_mnist(bad)
    assert "\n" not in str(error.value) and "canvas" in str(error.value)


def test_input_canvas_is_not_modified():
    canvas = draw("2", mode="white")
    canvas.setflags(write=False)  # as np.asarray of a PIL image gives it
    before = canvas.copy()
    canvas_to_mnist(canvas)
    assert (canvas == before).all()


def test_stroke_width_of_a_bar():
    bar = np.zeros((40, 100), np.float32)
    bar[10:16, 5:95] = 1.0
    assert stroke_width(bar) == pytest.approx(6.0, rel=0.1)


def photo(upright: np.ndarray, dark_ink: bool = True, seed: int = 0) -> Image.Image:
    """`upright` (a white-background canvas) photographed: on grey paper lit unevenly, smaller
    than the frame, with sensor noise."""
    rng = np.random.default_rng(seed)
    height, width = 480, 360
    rows, cols = np.mgrid[0:height, 0:width]
    paper = 0.62 + 0.25 * cols / width + 0.08 * rows / height
    ink = 1.0 - np.asarray(Image.fromarray(upright[..., 0]).resize((300, 300)), np.float32) / 255
    picture = paper.copy()
    picture[90:390, 30:330] *= 1 - 0.8 * ink
    picture += rng.normal(0, 0.03, picture.shape)
    if not dark_ink:
        picture = 1 - picture
    return Image.fromarray(np.clip(picture * 255, 0, 255).astype(np.uint8)).convert("RGB")


def jpeg(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70, **options)
    return buffer.getvalue()


def test_photo_of_a_digit_matches_the_clean_drawing():
    clean = draw("2", brush=16, mode="white")
    reference = canvas_to_mnist(clean)
    from_photo = image_to_mnist(jpeg(photo(clean)))
    assert np.abs(from_photo - reference).mean() < 0.04
    light_on_dark = image_to_mnist(photo(clean, dark_ink=False))
    assert np.abs(light_on_dark - reference).mean() < 0.04


def test_photo_exif_orientation_is_honoured():
    clean = draw("7", brush=16, mode="white")
    reference = canvas_to_mnist(clean)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": stored turned anticlockwise
    stored = photo(clean).transpose(Image.Transpose.ROTATE_90)
    assert np.abs(image_to_mnist(jpeg(stored, exif=exif)) - reference).mean() < 0.04


def test_photo_specks_are_removed():
    clean = draw("4", brush=16, mode="white")
    reference = canvas_to_mnist(clean)
    speckled = np.asarray(photo(clean)).copy()
    speckled[20:26, 20:26] = 0  # pencil dots far from the digit
    speckled[440:445, 300:304] = 0
    assert np.abs(image_to_mnist(speckled) - reference).mean() < 0.04


def test_blank_paper_is_none():
    rng = np.random.default_rng(1)
    rows, cols = np.mgrid[0:300, 0:400]
    paper = 170 + 60 * cols / 400 + rng.normal(0, 6, (300, 400))
    assert image_to_mnist(np.clip(paper, 0, 255).astype(np.uint8)) is None


def test_image_inputs_in_every_form_agree():
    canvas = draw("2", mode="white")
    reference = image_to_mnist(canvas[..., :3])
    as_float = image_to_mnist(canvas[..., :3].astype(np.float32) / 255)
    buffer = io.BytesIO()
    Image.fromarray(canvas).convert("L").save(buffer, "PNG")
    from_png = image_to_mnist(buffer.getvalue())
    for other in (as_float, from_png):
        assert np.abs(other - reference).max() < 0.02
    assert np.abs(reference - canvas_to_mnist(canvas)).mean() < 0.02


def test_transparent_png_upload_is_read_like_the_canvas():
    canvas = draw("4", mode="transparent")
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, "PNG")
    assert np.array_equal(image_to_mnist(buffer.getvalue()), canvas_to_mnist(canvas))


@pytest.mark.parametrize(
    "bad",
    [b"not an image at all", b"", np.full((20, 20), np.nan), np.zeros((4, 4, 2)), "digit.png"],
)
def test_bad_images_raise_one_line_errors(bad):
    with pytest.raises(DigitnetError) as error:
        image_to_mnist(bad)
    assert "\n" not in str(error.value)


def blank_png(width: int, height: int) -> bytes:
    """A valid white 1-bit PNG of any size, written row by row: a 13000 x 13000 one is 46 KB
    and never exists whole in memory (as a decoder would build it: 169 MB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte, then white pixels
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def test_small_png_of_a_huge_image_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(blank_png(13_000, 13_000))
    # A fresh process: its peak memory and its stderr are this upload's alone.
    script = (
        "import resource, sys\n"
        "from digitnet.data.preprocess import image_to_mnist, read_image_file\n"
        "data = read_image_file(sys.argv[1])\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    image_to_mnist(data)\nexcept Exception as error:\n    print(error)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    message, grown_kb = result.stdout.splitlines()
    assert message == (
        "the image is 13000 x 13000 pixels (169 megapixels); the limit is 40 megapixels: "
        "scale it down"
    )
    assert int(grown_kb) < 20_000  # decoding would take 169 MB
    assert result.stderr == ""


def test_an_image_just_under_the_pixel_limit_is_read():
    # 1-bit, 8000 x 4000 = 32 megapixels: read, found blank.
    assert image_to_mnist(blank_png(8000, 4000)) is None


def test_huge_images_in_every_form_are_refused_by_pixel_count():
    lazy = Image.open(io.BytesIO(blank_png(7000, 7000)))  # opened, not decoded
    with pytest.raises(DigitnetError, match=r"^the image is 7000 x 7000 pixels \(49 megapixels\)"):
        image_to_mnist(lazy)
    with pytest.raises(DigitnetError, match="more than 178 megapixels; the limit is 40"):
        image_to_mnist(blank_png(20_000, 20_000))  # above Pillow's own bomb limit


def test_image_files_are_read_with_a_byte_cap(tmp_path):
    with pytest.raises(DigitnetError, match="larger than 20 MB") as error:
        read_image_file("/dev/zero")
    assert "\n" not in str(error.value)
    with pytest.raises(DigitnetError, match="larger than 20 MB"):
        image_to_mnist(bytes(MAX_IMAGE_BYTES + 1))
    with pytest.raises(DigitnetError, match="cannot read"):
        read_image_file(tmp_path)
    with pytest.raises(DigitnetError, match="cannot read"):
        read_image_file(tmp_path / "missing.png")
    path = tmp_path / "digit.png"
    Image.fromarray(draw("7", mode="white")).save(path)
    assert np.array_equal(image_to_mnist(read_image_file(path)), image_to_mnist(path.read_bytes()))


@pytest.mark.parametrize("mode", ["white", "grey", "noisy"])
def test_a_blank_photo_is_none(mode):
    """The Draw page says "no digit found" for None (issue 8, point 8)."""
    rng = np.random.default_rng(2)
    page = {
        "white": np.full((480, 640, 3), 255, np.uint8),
        "grey": np.full((480, 640, 3), 128, np.uint8),
        "noisy": np.clip(rng.normal(200, 4, (480, 640, 3)), 0, 255).astype(np.uint8),
    }[mode]
    assert image_to_mnist(jpeg(Image.fromarray(page))) is None


def test_canvas_steps_are_what_the_run_made():
    canvas = draw("7", height=0.6, brush=18, mode="white")
    steps = []
    image = canvas_to_mnist(canvas, steps)
    assert [step.name for step in steps] == ["canvas", "box", "scaled", "centred"]
    drawn, box, scaled, centred = (step.image for step in steps)
    assert np.array_equal(drawn, canvas)
    # The box holds the ink, shrunk by a whole factor: a 280 px canvas's 168 px tall 7 by 2.
    assert box.dtype == np.float32 and box.max() == pytest.approx(1.0)
    assert box.shape[0] == pytest.approx(0.6 * SIZE / 2, abs=2)
    assert (box[[0, -1]] > INK_LEVEL).any(axis=1).all()  # ink on its first and last rows
    assert (box[:, [0, -1]] > INK_LEVEL).any(axis=0).all()
    assert max(scaled.shape) == DIGIT_BOX * SUPERSAMPLE  # 20 px, at 4x
    assert scaled.shape[1] / scaled.shape[0] == pytest.approx(box.shape[1] / box.shape[0], abs=0.1)
    assert centred is image and image.shape == (28, 28)
    assert np.array_equal(image, canvas_to_mnist(canvas))  # asking for steps changes nothing


def test_photo_steps_are_what_the_run_made():
    clean = draw("2", brush=16, mode="white")
    steps = []
    image = image_to_mnist(photo(clean), steps)
    assert [step.name for step in steps] == ["grey", "ink", "box", "scaled", "centred"]
    grey, ink, box, scaled, centred = (step.image for step in steps)
    assert grey.shape == ink.shape == (320, 240)  # the 480 x 360 photo shrunk to 320
    assert np.median(grey) > 0.5 and ink.max() == pytest.approx(1.0)  # light paper, ink found
    assert np.median(ink) == 0  # the paper is gone, uneven light and all
    rows = np.flatnonzero((ink > INK_LEVEL).any(axis=1))
    cols = np.flatnonzero((ink > INK_LEVEL).any(axis=0))
    assert np.array_equal(box, ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    assert max(scaled.shape) == DIGIT_BOX * SUPERSAMPLE
    assert centred is image and np.array_equal(image, image_to_mnist(photo(clean)))


def test_steps_stop_where_a_blank_canvas_does():
    steps = []
    assert canvas_to_mnist(np.full((SIZE, SIZE, 4), 255, np.uint8), steps) is None
    assert [step.name for step in steps] == ["canvas"]
