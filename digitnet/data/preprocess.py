"""From what a person drew or photographed to what the network learnt from: a (28, 28) float32
image in [0, 1], white ink on black, the digit scaled so its longer side is 20 px and its centre
of mass at the centre, the way MNIST itself was made.

Both entry points find the ink their own way (a canvas knows its background exactly, a photo has
to estimate it), then share one path, `_ink_to_mnist`: resize the ink's box at four times the
output resolution, bring the stroke width into MNIST's range, put the centre of mass at (14, 14)
to a quarter pixel, and average 4x4 blocks down to 28x28 (which is also the anti-aliasing).

Given a list as ``steps``, either entry point also appends what each stage made (a `Step`), so a
page can show how a drawing became what the network reads: the very arrays this run made, in
order. Their names:

- "canvas": the canvas as given, (H, W, 4) uint8 RGBA;
- "grey": a photo in grey, (h, w) float32, 0 black to 1 white, shrunk to PHOTO_SIZE at most;
- "ink": the ink found in the photo, (h, w) float32, light (1) on dark (0), the paper removed;
- "box": the ink cropped to its box, float32 light on dark (a large canvas's shrunk by an
  integer factor first);
- "scaled": the box scaled so its longer side is DIGIT_BOX (20) pixels, worked at SUPERSAMPLE
  (4) times that resolution, strokes brought to MNIST's width: float32, about 80 px long;
- "centred": the result, (28, 28) float32, the centre of mass at the centre.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitnet.errors import DigitnetError
from digitnet.files import read_limited, too_large
from digitnet.images import IMAGE_SIZE

# Bumped whenever the output for the same canvas changes: a model records the version it was
# trained and measured with.
PREPROCESS_VERSION = 1
DIGIT_BOX = 20
# MNIST's centre of mass sits at (14.0, 14.0) in pixel indices (the mean over its test set).
MNIST_CENTRE = 14.0
# Work at 4x the output: centring to a quarter pixel, stroke width in steps of half a pixel.
SUPERSAMPLE = 4
# Stroke widths in output pixels (as `stroke_width` measures them on the 4x grid) that drawings
# are brought into. Thinner strokes are thickened to MNIST's 20th percentile (2.1: its median is
# 2.5): with a 3-6 px brush that lifts a NumPy MLP from 94.8% to 96.8% on the drawn set. Only
# strokes thicker than about MNIST's 97th percentile are thinned: erosion also eats the thinner
# parts of a drawing, and with a 30-44 px brush thinning to 3.1 scored 88.9%, to 4.4 94.3%, not
# at all 89.7%. Inside the 10-26 px brush range it changes little (96.7% either way).
STROKE_RANGE = (2.1, 4.4)
# An ink map value above this counts when finding the ink's box (drops anti-aliased fringes).
INK_LEVEL = 0.1
# No digit: the ink's box is shorter than this share of the canvas's longer side (a stray dot,
# even of a 26 px brush on a 280 px canvas), or the ink weighs less than this share of its area.
MIN_EXTENT = 0.1
MIN_MASS = 0.002
# Opaque canvases: a stroke colour this close (0-255, per channel) to the background is no ink.
MIN_CONTRAST = 16
# Photos are shrunk to this longer side first: a digit needs far fewer pixels than a camera has.
PHOTO_SIZE = 320
# ... and must keep at least this many on its shorter side (a tight crop of a 1 can be 7 x 73;
# a line of single pixels has no noise to measure, nor a digit).
MIN_PHOTO_SIDE = 2
# Photo background: estimated on a grid of this many blocks per side.
BACKGROUND_BLOCKS = 8
# Uploads are refused above these, before decoding: a real photo of a digit never comes near,
# and a small file can hold a huge image (a 685 KB PNG decodes to 13000 x 13000, 1.3 GB).
MAX_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 20_000_000
AN_IMAGE = "an image: scale it down"  # what a refusal over MAX_IMAGE_BYTES says
# The drawing canvas's PNG (``read_canvas_png``) is 8-bit RGBA (PNG colour type 6), as a
# browser's canvas.toDataURL() writes it; a PNG holds at most this many bytes more than its raw
# pixels (a filter byte a row, chunk headers, text).
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_RGBA = 6
PNG_COLOURS = {0: "grey", 2: "RGB", 3: "palette", 4: "grey and alpha", PNG_RGBA: "RGBA"}
PNG_OVERHEAD = 1_000_000
# Pillow warns on stderr about images above 89 megapixels when it opens them; each of those is
# refused here with a clear message (MAX_PIXELS), so the warning would only repeat it.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Share of a photo's height and width, on each side, that counts as its edge: a component
# touching the border with most of its pixels in that band is a paper edge or shadow.
EDGE_BAND = 0.1
# A photo block with less than this share of paper pixels takes its paper level from around it.
MIN_PAPER = 0.2
# Photo ink is at least this much darker (0-1) than its paper: less is uneven light.
MIN_INK_CONTRAST = 0.25
# Photo ink components smaller than this share of the largest one are specks, not strokes.
MIN_COMPONENT = 0.08
# Photos among clutter. The paper's level is this percentile of the border's pixels (not the
# median: a dark table and a shadow can cover half the border).
PAPER_PERCENTILE = 75
# The second look at a photo's ink takes as paper the opening (a running minimum, then maximum)
# of its ink map this share of its longer side wide: a table's edge or a shadow is wider than
# that and counts as paper, a pen stroke of a digit on the paper is not.
OPENING = 0.1
# A mark hugs a side of the photo (a table's edge, a shadow's) when it touches at least
# BAND_LENGTH of the side and reaches in at most BAND_DEPTH of the photo.
BAND_LENGTH = 0.6
BAND_DEPTH = 0.4
# Pieces of one digit lie at most this share of the digit's longer side apart; a mark apart from
# the digit at least RIVAL of its size is a rival ("several marks could be the digit").
PIECE_GAP = 0.3
RIVAL = 0.3
# The first look's ink around the second look's digit is clutter when its median strength is
# under this share of the digit's.
FAINTER = 0.75
# Ruled lines: rows (or columns), slanted up to LINE_SLANT (rise over run), with ink across at
# least LINE_SPAN of the photo and at most LINE_WIDTH of it (2 pixels at least) thick.
LINE_SLANT = 0.04
LINE_SPAN = 0.25
LINE_WIDTH = 0.01
# A digit that touches the border is one cropped tight when its box spans this share of the
# photo's height and width; else it is cut off by the photo's edge.
TIGHT = 0.5
# Why a photo's digit is uncertain (`photo_marks`).
NO_DIGIT = "nothing that looks like a digit"
SEVERAL = "several marks could be the digit"
AT_EDGE = "the digit touches the edge of the photo"

_MIN_INK_ALPHA = int(INK_LEVEL * 255) + 1
_WORK = IMAGE_SIZE * SUPERSAMPLE
_BOX = DIGIT_BOX * SUPERSAMPLE
# Where MNIST_CENTRE falls on the 4x grid: output pixel j averages grid pixels 4j .. 4j+3.
_WORK_CENTRE = MNIST_CENTRE * SUPERSAMPLE + (SUPERSAMPLE - 1) / 2


@dataclass(frozen=True)
class Step:
    """What one stage of the preprocessing made (see the module docstring for each ``name``)."""

    name: str
    image: np.ndarray


def canvas_to_mnist(rgba: np.ndarray, steps: list[Step] | None = None) -> np.ndarray | None:
    """A drawing canvas's (H, W, 4) uint8 RGBA array to a (28, 28) MNIST-style image, or None
    when nothing digit-sized is drawn. The background is read from the canvas's border: transparent
    (the ink is the alpha channel, whatever the RGB), or any opaque colour with strokes of any
    other colour. ``steps``, when given, receives "canvas", "box", "scaled" and "centred" (as far
    as the run got)."""
    pixels = _checked_canvas(rgba)
    _record(steps, "canvas", pixels)
    found = _canvas_ink(pixels)
    if found is None:
        return None
    ink, reduction = found
    _record(steps, "box", ink)
    return _ink_to_mnist(ink, max(pixels.shape[:2]) / reduction, steps)


def image_to_mnist(
    image: Image.Image | np.ndarray | bytes, steps: list[Step] | None = None
) -> np.ndarray | None:
    """An uploaded photo or scan of one digit (PIL image, array, or PNG/JPEG bytes) to a (28, 28)
    MNIST-style image, or None when no ink stands out from the paper (the page says "no digit
    found"). Dark ink on light paper and light on dark both work, and so do 1-bit scans and
    photos cropped so tight that the ink touches the edges; uneven lighting and specks are
    removed first, and the digit is picked from among clutter (a table's edge or a shadow along
    a side, ruled lines). Images above MAX_PIXELS or MAX_IMAGE_BYTES are refused before
    decoding; read files with ``read_image_file``. ``steps``, when given, receives "grey",
    "ink", "box", "scaled" and "centred" (a transparent image is read as a canvas: "canvas",
    "box", ...). ``photo_marks`` says too when the digit is uncertain."""
    return photo_marks(image, steps).image


@dataclass(frozen=True)
class PhotoMarks:
    """A photo read: ``image`` as ``image_to_mnist`` gives it, and ``reason``, why the digit
    can't be told for sure (NO_DIGIT, SEVERAL or AT_EDGE), None when it can."""

    image: np.ndarray | None
    reason: str | None


def photo_marks(
    image: Image.Image | np.ndarray | bytes, steps: list[Step] | None = None
) -> PhotoMarks:
    """A photo read as ``image_to_mnist`` reads it (same arguments, same image, one pass), and
    why its digit is uncertain: NO_DIGIT ("nothing that looks like a digit") when the image is
    None; SEVERAL ("several marks could be the digit") when another mark apart from the digit is
    at least RIVAL of its size; AT_EDGE ("the digit touches the edge of the photo") when the
    digit touches the border yet spans less than TIGHT of the photo (cut off, not cropped tight);
    else None. A transparent image (a canvas) has no reason unless nothing is drawn."""
    pixels = _photo_pixels(image)
    if pixels.ndim == 3 and pixels.shape[2] == 4 and np.median(_border(pixels[..., 3])) < 128:
        # Mostly transparent: a canvas export, whose ink is its alpha channel.
        drawn = canvas_to_mnist(pixels, steps)
        return PhotoMarks(drawn, NO_DIGIT if drawn is None else None)
    grey = _greyscale(pixels)
    _record(steps, "grey", grey)
    found = _photo_ink(grey, steps)
    if found is None:
        return PhotoMarks(None, NO_DIGIT)
    ink, reason = found
    _record(steps, "box", ink)
    result = _ink_to_mnist(ink, max(grey.shape), steps)
    return PhotoMarks(result, NO_DIGIT if result is None else reason)


def explain_photo(image: Image.Image | np.ndarray | bytes) -> str | None:
    """Why a photo's digit can't be told for sure, None when it can (``photo_marks``'s reason;
    call ``photo_marks`` to have the image from the same pass)."""
    return photo_marks(image).reason


def read_image_file(path: str | os.PathLike) -> bytes:
    """The bytes of an image file, read up to MAX_IMAGE_BYTES only (``/dev/zero`` or a video
    stop there): pass them to ``image_to_mnist``."""
    return read_limited(path, MAX_IMAGE_BYTES, AN_IMAGE)


def read_canvas_png(data: bytes, width: int, height: int) -> np.ndarray:
    """The drawing canvas's PNG (as st_canvas sends it) as the (height, width, 4) uint8 RGBA
    array ``canvas_to_mnist`` takes. The browser sends it, so its header is checked before
    anything is decoded: a PNG of 8-bit RGBA, exactly the canvas's size, and no more bytes than
    such pixels can take. A crafted one (16-bit grey, 12000 x 12000) is one line."""
    most = 4 * width * height + PNG_OVERHEAD
    if len(data) > most:
        raise DigitnetError(
            f"the canvas image is {len(data):,} bytes; a {width} x {height} canvas's is at most "
            f"{most:,}"
        )
    if len(data) < 26 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise DigitnetError("the canvas image is not a PNG")
    found_width, found_height, depth, colour = struct.unpack(">IIBB", data[16:26])
    if (depth, colour) != (8, PNG_RGBA):
        kind = PNG_COLOURS.get(colour, f"colour type {colour}")
        raise DigitnetError(f"the canvas image is {depth}-bit {kind}; a canvas sends 8-bit RGBA")
    if (found_width, found_height) != (width, height):
        raise DigitnetError(
            f"the canvas image is {found_width} x {found_height} pixels; the canvas is "
            f"{width} x {height}"
        )
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DigitnetError(f"the canvas image is not a readable PNG ({error})") from None
    return np.asarray(image)


def stroke_width(ink: np.ndarray) -> float:
    """Typical stroke width in pixels of an ink map (ink > 0.5): twice the area over the edge
    length, exact for a long straight stroke, so it compares drawings with MNIST digits."""
    solid = ink > 0.5
    area = int(solid.sum())
    if area == 0:
        return 0.0
    padded = _padded(solid, False)
    interior = solid & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return 2.0 * area / max(area - int(interior.sum()), 1)


def _checked_canvas(rgba: object) -> np.ndarray:
    if not isinstance(rgba, np.ndarray):
        raise DigitnetError(f"canvas must be a numpy array (H, W, 4), got {type(rgba).__name__}")
    if rgba.dtype != np.uint8:
        raise DigitnetError(f"canvas must be uint8 RGBA, got dtype {rgba.dtype}")
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise DigitnetError(f"canvas must have shape (H, W, 4) (RGBA), got {rgba.shape}")
    if rgba.shape[0] == 0 or rgba.shape[1] == 0:
        raise DigitnetError(f"canvas is empty (shape {rgba.shape})")
    return np.ascontiguousarray(rgba)


def _canvas_ink(pixels: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The ink of a canvas cropped to its box, as float32 in [0, 1], and the factor it was
    shrunk by (see `_reduced`). Boxes are found on the pixels packed as one uint32 each: one
    comparison per pixel instead of four."""
    packed = pixels.view("<u4")[..., 0]
    border = _border(packed)
    background_word = np.partition(border, border.size // 2)[border.size // 2]
    background = np.array([background_word], "<u4").view(np.uint8)
    if background[3] < 128:
        box = _box(packed >= _MIN_INK_ALPHA << 24)  # alpha is the top byte
        if box is None:
            return None
        alpha, reduction = _reduced(pixels[box][..., 3])
        return alpha * np.float32(1 / 255), reduction
    loose = _box(packed != background_word)
    if loose is None:
        return None
    crop, reduction = _reduced(pixels[loose])
    # Largest per-channel difference from the background, in uint8 (max - min cannot wrap).
    # Averaging pixels first changes nothing for one stroke colour: both are linear in coverage.
    distance = np.zeros(crop.shape[:2], np.uint8)
    for channel in range(3):
        values, level = crop[..., channel], background[channel]
        np.maximum(distance, np.maximum(values, level) - np.minimum(values, level), out=distance)
    contrast = int(distance.max())
    if contrast < MIN_CONTRAST:
        return None
    ink = distance * np.float32(1 / contrast)
    return ink[_box(ink > INK_LEVEL)], reduction


def _reduced(crop: np.ndarray) -> tuple[np.ndarray, int]:
    """A (h, w) or (h, w, 4) uint8 crop box-averaged by the largest integer factor that keeps it
    at least the 4x working box (80 px) long, and that factor: a 280 px canvas has more pixels
    than the result can use, and the per-pixel work after this is up to 9 times smaller."""
    reduction = max(1, max(crop.shape[:2]) // _BOX)
    if reduction == 1:
        return crop, 1
    # "RGBX", not "RGBA": opaque pixels need no premultiplying by alpha, 4 times slower in PIL.
    mode = "L" if crop.ndim == 2 else "RGBX"
    crop = np.ascontiguousarray(crop)
    image = Image.frombuffer(mode, crop.shape[1::-1], crop, "raw", mode, 0, 1)
    return np.asarray(image.reduce(reduction)), reduction


def _photo_pixels(image: object) -> np.ndarray:
    """Decode and orient an upload as a uint8 array, shrunk to PHOTO_SIZE at most."""
    if isinstance(image, bytes | bytearray | memoryview):
        image = _decoded(image)
    if isinstance(image, Image.Image):
        _check_size(*image.size)
        image = ImageOps.exif_transpose(image)
        if image.mode not in ("L", "RGB", "RGBA"):
            image = image.convert("RGBA" if image.has_transparency_data else "RGB")
        image.thumbnail((PHOTO_SIZE, PHOTO_SIZE), Image.BOX)
        return np.asarray(image)
    if not isinstance(image, np.ndarray):
        raise DigitnetError(
            f"image must be a PIL image, numpy array or PNG/JPEG bytes, not {type(image).__name__}"
        )
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise DigitnetError(f"image must have shape (H, W) or (H, W, 1|3|4), got {image.shape}")
    if image.size == 0:
        raise DigitnetError(f"image is empty (shape {image.shape})")
    if image.dtype != np.uint8:
        if not np.issubdtype(image.dtype, np.floating):
            raise DigitnetError(f"image must be uint8 or float in [0, 1], got dtype {image.dtype}")
        if not np.isfinite(image).all():
            raise DigitnetError("image contains NaN or infinite values")
        image = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    return _photo_pixels(Image.fromarray(np.ascontiguousarray(image)))


def _decoded(data: bytes | bytearray | memoryview) -> Image.Image:
    """PNG/JPEG bytes decoded, its size checked from the header first (opening reads only the
    header), and a JPEG decoded straight at 1/2 to 1/8 of its size."""
    if len(data) > MAX_IMAGE_BYTES:
        raise DigitnetError(f"the upload {too_large(MAX_IMAGE_BYTES, AN_IMAGE)}")
    try:
        image = Image.open(io.BytesIO(data))
        _check_size(*image.size)
        image.draft(image.mode, (PHOTO_SIZE, PHOTO_SIZE))
        image.load()
    except DigitnetError:
        raise
    except Image.DecompressionBombError:
        limit = 2 * Image.MAX_IMAGE_PIXELS // 1_000_000
        raise DigitnetError(_too_many_pixels(f"more than {limit} megapixels")) from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DigitnetError(f"upload is not a readable PNG/JPEG image ({error})") from None
    return image


def _check_size(width: int, height: int) -> None:
    """A photo's size from its header: at most MAX_PIXELS, and at least MIN_PHOTO_SIDE a side
    once shrunk to PHOTO_SIZE (a line of pixels has no digit, nor any noise to measure)."""
    if width * height > MAX_PIXELS:
        size = f"{width} x {height} pixels ({width * height / 1e6:.0f} megapixels)"
        raise DigitnetError(_too_many_pixels(size))
    if min(width, height) * min(1.0, PHOTO_SIZE / max(width, height)) < MIN_PHOTO_SIDE:
        raise DigitnetError(
            f"the image is {width} x {height} pixels: too small or too thin to hold a digit (its "
            f"shorter side must be at least {MIN_PHOTO_SIDE} pixels once the longer is at most "
            f"{PHOTO_SIZE})"
        )


def _too_many_pixels(size: str) -> str:
    return f"the image is {size}; the limit is {MAX_PIXELS // 1_000_000} megapixels: scale it down"


def _greyscale(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels * np.float32(1 / 255)
    rgb = pixels[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    if pixels.shape[2] == 4:  # semi-transparent photo: composite over the border's colour
        alpha = pixels[..., 3] * np.float32(1 / 255)
        rgb = rgb * alpha + np.median(_border(rgb)) * (1 - alpha)
    return rgb * np.float32(1 / 255)


def _photo_ink(grey: np.ndarray, steps: list[Step] | None) -> tuple[np.ndarray, str | None] | None:
    """Light-on-dark ink map of a photo cropped to the digit, and why the digit is uncertain
    (None when it is not). The paper is whichever extreme the border's upper quartile is nearer
    to. A first look subtracts its uneven brightness (`_background`); when the digit it finds
    (`_Look`) touches the border or has rivals, a second look subtracts the paper's opening
    OPENING wide instead, to which a table's edge or a shadow is paper too, and drops ruled
    lines; its digit is taken when clear of the border and not thick strokes it thinned
    (`_clutter_around`). Else the first look's large components are the digit, as in a photo
    cropped tight (the uncropped map is the step "ink")."""
    # The paper's level: a table or a shadow may cover much of the border, and mostly darkens.
    paper = float(np.percentile(_border(grey), PAPER_PERCENTILE))
    darkest, lightest = np.percentile(grey, [0.5, 99.5])
    if paper - darkest > lightest - paper:  # dark ink on light paper
        grey = 1.0 - grey
    first = _Look.of(grey, _background(grey), second_look=False)
    chosen = first
    if first is not None and (first.touching or first.rival):
        opening = max(3, round(OPENING * max(grey.shape)))
        second = _Look.of(grey, _opened(grey, opening), second_look=True)
        if (
            second is not None
            and not second.touching
            and _digit_sized(second.digit)
            and _clutter_around(first, second.digit)
        ):
            chosen = second
    if chosen is None:  # no ink
        return None
    tight = None if chosen.digit is not None else _large_components(chosen.mask)
    if chosen.digit is None and (tight is None or not _spans_most(tight)):
        return None  # ink only along the sides: a table's edge, not a digit cropped tight
    if chosen.touching or chosen.digit is None:  # cropped tight: strokes reach in from the edge
        keep = _large_components(chosen.mask)
        if keep is not None and _ruled_lines(keep).sum() >= 0.5 * keep.sum():
            return None  # ruled paper and nothing on it
        reason = None if keep is None or _spans_most(keep) else AT_EDGE
    else:
        keep, reason = chosen.digit, SEVERAL if chosen.rival else None
    if keep is None:
        return None
    ink = chosen.ink(keep)
    _record(steps, "ink", ink)
    box = _box(ink > INK_LEVEL)
    return None if box is None else (ink[box], reason)


@dataclass(frozen=True)
class _Look:
    """One look at a photo's ink: the strokes found above the paper (``mask``), and which of
    them is the digit: the largest mark, preferring ones clear of the border, with the marks
    near it (pieces of one digit); marks hugging a side of the photo (a table's edge, a shadow)
    are left out."""

    signal: np.ndarray  # the ink's strength above the paper (0 on paper)
    threshold: float
    noise: float
    mask: np.ndarray
    digit: np.ndarray | None  # the digit's pixels; None when every mark hugs a side
    touching: bool  # the digit touches the photo's border
    rival: bool  # another mark, apart from the digit, is at least RIVAL of its size

    @classmethod
    def of(cls, grey: np.ndarray, background: np.ndarray, second_look: bool) -> _Look | None:
        """The look at ``grey`` (ink light) above ``background``; None when no ink stands out.
        The second look drops ruled lines."""
        residual = grey - background
        noise = _noise(residual)
        signal = np.clip(residual, 0.0, None)
        peak = float(np.percentile(signal, 99.9))
        if peak < max(0.1, 8 * noise):
            return None
        threshold = max(_otsu(signal, peak), 3 * noise)
        mask = signal > threshold
        if second_look:
            mask &= ~_ruled_lines(mask)
        marks = _Components(mask)
        if marks.count == 0:
            return None
        digit, rival = marks.digit()
        if digit is None:
            return cls(signal, threshold, noise, mask, None, True, rival)
        keep = np.isin(marks.labels, marks.ids[digit])
        return cls(signal, threshold, noise, mask, keep, bool(marks.touching[digit].any()), rival)

    def ink(self, keep: np.ndarray) -> np.ndarray:
        """The strength of the kept strokes and their fringe, 0 to 1."""
        core = float(np.median(self.signal[keep]))
        low = max(self.threshold / 2, 2 * self.noise)
        strength = np.clip((self.signal - low) / max(core - low, 1e-3), 0.0, 1.0)
        return (strength * _grow(keep)).astype(np.float32)


class _Components:
    """The 8-connected components of a mask with what picks the digit among them: size, box
    (top, bottom, left, right, inclusive), and pixels on each side of the border."""

    def __init__(self, mask: np.ndarray) -> None:
        self.labels = _component_labels(mask)
        self.ids, which, self.sizes = np.unique(
            self.labels[mask], return_inverse=True, return_counts=True
        )
        self.count = self.ids.size
        rows, cols = np.nonzero(mask)
        self.boxes = np.empty((self.count, 4), int)
        self.boxes[:] = [mask.size, -1, mask.size, -1]  # what the minima and maxima start from
        for column, (values, operation) in enumerate(
            [(rows, np.minimum), (rows, np.maximum), (cols, np.minimum), (cols, np.maximum)]
        ):
            operation.at(self.boxes[:, column], which, values)
        height, width = mask.shape
        on_side = [rows == 0, rows == height - 1, cols == 0, cols == width - 1]
        self.contact = np.stack(
            [np.bincount(which[side], minlength=self.count) for side in on_side], 1
        )
        self.touching = self.contact.sum(axis=1) > 0
        self.shape = mask.shape

    def hugging(self) -> np.ndarray:
        """Marks lying along a side of the photo: touching at least BAND_LENGTH of it,
        reaching in at most BAND_DEPTH of the photo."""
        height, width = self.shape
        tall = self.boxes[:, 1] - self.boxes[:, 0] + 1
        wide = self.boxes[:, 3] - self.boxes[:, 2] + 1
        depth = np.stack([tall, tall, wide, wide], 1)
        side = np.array([width, width, height, height])
        across = np.array([height, height, width, width])
        return ((self.contact >= BAND_LENGTH * side) & (depth <= BAND_DEPTH * across)).any(axis=1)

    def digit(self) -> tuple[np.ndarray | None, bool]:
        """Indices of the digit's marks (None when every mark hugs a side), and whether a mark
        apart from it is at least RIVAL of its size."""
        candidates = ~self.hugging()
        if not candidates.any():
            return None, False
        score = np.where(candidates, self.sizes * np.where(self.touching, 0.25, 1.0), -1.0)
        seed = int(np.argmax(score))
        large = candidates & (self.sizes >= MIN_COMPONENT * self.sizes[seed])
        chosen = np.zeros(self.count, bool)
        chosen[seed] = True
        while True:
            box = self._union(chosen)
            reach = PIECE_GAP * max(box[1] - box[0], box[3] - box[2])
            gap = np.maximum(
                np.maximum(self.boxes[:, 0] - box[1], box[0] - self.boxes[:, 1]),
                np.maximum(self.boxes[:, 2] - box[3], box[2] - self.boxes[:, 3]),
            )
            near = large & ~chosen & (gap <= reach)
            if not near.any():
                break
            chosen |= near
        rival = candidates & ~chosen & (self.sizes >= RIVAL * self.sizes[chosen].sum())
        return np.flatnonzero(chosen), bool(rival.any())

    def _union(self, chosen: np.ndarray) -> np.ndarray:
        boxes = self.boxes[chosen]
        return np.array(
            [boxes[:, 0].min(), boxes[:, 1].max(), boxes[:, 2].min(), boxes[:, 3].max()]
        )


def _digit_sized(digit: np.ndarray) -> bool:
    """Whether a mark is large enough to be read as a digit (`_ink_to_mnist`'s MIN_EXTENT and
    MIN_MASS), not a piece of one."""
    rows, cols = _box(digit)
    extent = max(digit.shape)
    longer = max(rows.stop - rows.start, cols.stop - cols.start)
    return longer >= MIN_EXTENT * extent and digit.sum() >= MIN_MASS * extent * extent


def _clutter_around(first: _Look, digit: np.ndarray) -> bool:
    """Whether the first look's marks holding ``digit`` (the second look's) are, beyond its
    strokes, fainter than them by FAINTER (a shadow, ruled lines), as opposed to the thick
    strokes of a photo cropped tight, which the second look thins. When they are little more
    than its strokes, it is a mark of the first look's too: the digit unless the first look
    picked it and found it touching the border. When the first look missed most of it, its
    threshold was set by the clutter."""
    found = digit & first.mask
    if found.sum() < 0.5 * digit.sum():  # the first look's threshold, set by clutter, missed it
        return True
    labels = _component_labels(first.mask)
    around = np.isin(labels, labels[found]) & first.mask & ~_grow(_grow(digit))
    if around.sum() <= MIN_COMPONENT * digit.sum():  # a mark of its own in the first look
        return not first.touching or not (found & first.digit).any()
    return np.median(first.signal[around]) < FAINTER * np.median(first.signal[digit])


def _spans_most(keep: np.ndarray) -> bool:
    """The kept ink's box spans at least TIGHT of the photo's height and of its width."""
    rows, cols = _box(keep)
    height, width = keep.shape
    return rows.stop - rows.start >= TIGHT * height and cols.stop - cols.start >= TIGHT * width


def _ruled_lines(mask: np.ndarray) -> np.ndarray:
    """The mask's pixels on ruled lines: rows (or columns), slanted by up to LINE_SLANT, filled
    across at least LINE_SPAN of the photo and at most LINE_WIDTH of it thick, unlike strokes."""
    lines = np.zeros_like(mask)
    for image, found in ((mask, lines), (mask.T, lines.T)):
        height, width = image.shape
        rows, cols = np.nonzero(image)
        thickest = max(2, round(LINE_WIDTH * height))
        for slant in np.linspace(-LINE_SLANT, LINE_SLANT, 9):
            shift = np.round(slant * (cols - width / 2)).astype(int)
            slanted = rows - shift + width  # row on the slanted grid, never negative
            full = np.bincount(slanted, minlength=height + 2 * width) >= LINE_SPAN * width
            # Runs of full rows at most `thickest` thick: a line, not a band of ink.
            edges = np.flatnonzero(np.diff(np.concatenate([[0], full.astype(int), [0]])))
            thin = np.zeros_like(full)
            for start, stop in zip(edges[::2], edges[1::2], strict=True):
                if stop - start <= thickest:
                    thin[start:stop] = True
            on_line = thin[slanted]
            found[rows[on_line], cols[on_line]] = True
    return lines


def _opened(image: np.ndarray, width: int) -> np.ndarray:
    """Grey-level opening by a width x width square: light regions narrower than it (pen
    strokes) are removed, wider ones (a table, a shadow) kept, their edges too."""
    return _running(_running(image, width, np.minimum), width, np.maximum)


def _running(image: np.ndarray, width: int, operation: np.ufunc) -> np.ndarray:
    """`operation` (np.minimum / np.maximum) over a width x width square around each pixel,
    the outside repeating the edge: along rows then columns, each over windows doubled in
    length until the next doubling would pass `width`, then two overlapping ones."""
    for _ in range(2):
        length = image.shape[1]
        before = width // 2
        padded = np.concatenate(
            [
                np.repeat(image[:, :1], before, axis=1),
                image,
                np.repeat(image[:, -1:], width - 1 - before, axis=1),
            ],
            axis=1,
        )
        span, windows = 1, padded
        while 2 * span <= width:
            windows = operation(windows[:, :-span], windows[:, span:])
            span *= 2
        image = operation(windows[:, :length], windows[:, width - span : width - span + length]).T
    return image


def _noise(image: np.ndarray) -> float:
    """Standard deviation of the pixel noise, from the differences of neighbouring pixels
    (robustly: strokes' edges are a minority of the pairs, at least in one of the two
    directions), so it holds whatever share of the image the ink covers, even in a photo
    cropped to the digit."""
    steps = min(np.median(np.abs(np.diff(image, axis=axis))) for axis in (0, 1))
    return 1.4826 * float(steps) / np.sqrt(2)


def _background(ink: np.ndarray) -> np.ndarray:
    """Slowly varying paper level of a light-on-dark image, from the paper alone: the pixels
    below an Otsu split of the whole image, when it splits off ink (a contrast of at least
    MIN_INK_CONTRAST, not the darker half of an unevenly lit blank page). Its median per block;
    blocks with almost no paper (inside the thick strokes of a digit cropped tight) take the
    least of their neighbours', else the paper's overall level; smoothly interpolated back to
    full size."""
    height, width = ink.shape
    paper = ink < _otsu(ink, 1.0)
    if paper.all() or not paper.any() or ink[~paper].mean() - ink[paper].mean() < MIN_INK_CONTRAST:
        paper = np.ones_like(paper)
    blocks = np.full((BACKGROUND_BLOCKS, BACKGROUND_BLOCKS), np.inf, np.float32)
    rows = np.linspace(0, height, BACKGROUND_BLOCKS + 1).astype(int)
    cols = np.linspace(0, width, BACKGROUND_BLOCKS + 1).astype(int)
    for i in range(BACKGROUND_BLOCKS):
        for j in range(BACKGROUND_BLOCKS):
            window = (
                slice(rows[i], max(rows[i + 1], rows[i] + 1)),
                slice(cols[j], max(cols[j + 1], cols[j] + 1)),
            )
            block, block_paper = ink[window], paper[window]
            if block_paper.sum() >= MIN_PAPER * block.size:
                blocks[i, j] = np.median(block[block_paper])
    blocks = _neighbourhood(blocks, np.minimum, square=True, pad_value=np.inf)
    blocks[np.isinf(blocks)] = np.median(ink[paper])
    return np.asarray(Image.fromarray(blocks).resize((width, height), Image.BILINEAR))


def _otsu(values: np.ndarray, top: float) -> float:
    """The level that best splits the values into two classes (Otsu 1979)."""
    counts, edges = np.histogram(values, bins=64, range=(0.0, top))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    spread = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(spread)) + 1])


def _large_components(mask: np.ndarray) -> np.ndarray | None:
    """The mask without specks and edge artefacts: 8-connected components smaller than
    MIN_COMPONENT of the largest are dropped, and so are ones lying mostly along the border
    (paper edges, shadows) unless nothing else is left. Strokes of a digit cropped tight touch
    the border too, but reach in from it."""
    labels = _component_labels(mask)
    found, sizes = np.unique(labels[mask], return_counts=True)
    if found.size == 0:
        return None
    large = found[sizes >= MIN_COMPONENT * sizes.max()]
    rows, cols = (np.arange(size) for size in mask.shape)
    inside = np.outer(
        np.abs(rows - rows.mean()) < (0.5 - EDGE_BAND) * rows.size,
        np.abs(cols - cols.mean()) < (0.5 - EDGE_BAND) * cols.size,
    )
    in_band = np.isin(found, labels[mask & ~inside])
    band_sizes = np.zeros_like(sizes)
    band_sizes[in_band] = np.unique(labels[mask & ~inside], return_counts=True)[1]
    along_edges = found[band_sizes > 0.5 * sizes]
    inner = np.setdiff1d(large, np.intersect1d(along_edges, _border(labels)))
    return np.isin(labels, inner if inner.size else large)


def _component_labels(mask: np.ndarray) -> np.ndarray:
    """Label 8-connected components of a mask by the smallest flat index in each: neighbours
    pass on their smallest label, then each label jumps to its label's label (pointer jumping),
    which takes a few dozen vectorised passes rather than one per pixel of the longest path."""
    outside = mask.size
    labels = np.where(mask, np.arange(mask.size).reshape(mask.shape), outside)
    while True:
        spread = _neighbourhood(labels, np.minimum, square=True, pad_value=outside)
        spread = np.where(mask, spread, outside)
        flat = np.append(spread.ravel(), outside)
        spread = flat[flat[spread]]
        if np.array_equal(spread, labels):
            return labels
        labels = spread


def _grow(mask: np.ndarray) -> np.ndarray:
    """The mask and its 8 neighbours: keeps the anti-aliased fringe of the kept strokes."""
    return _neighbourhood(mask, np.maximum, square=True, pad_value=False)


def _ink_to_mnist(ink: np.ndarray, extent: float, steps: list[Step] | None) -> np.ndarray | None:
    """Cropped ink map (float32 in [0, 1], light on dark) of an image whose longer side is
    `extent` to the 28x28 MNIST layout, or None when it is too small to be a digit."""
    height, width = ink.shape
    longer = max(height, width)
    if longer < MIN_EXTENT * extent or ink.sum() < MIN_MASS * extent * extent:
        return None
    large = _resized(ink, _BOX / longer)
    thicken = _stroke_steps(stroke_width(large))
    if thicken:
        # Thickening by `thicken` pixels per side adds 2 * thicken to the box: leave room for it.
        large = _morph(_resized(ink, (_BOX - 2 * thicken) / longer), thicken)
    _record(steps, "scaled", large)
    image = _centred(large)
    _record(steps, "centred", image)
    return image


def _record(steps: list[Step] | None, name: str, image: np.ndarray) -> None:
    if steps is not None:
        steps.append(Step(name, image))


def _resized(ink: np.ndarray, scale: float) -> np.ndarray:
    height, width = ink.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(ink).resize(size, Image.BILINEAR))


def _stroke_steps(width: float) -> int:
    """How many 4x-grid pixels per side to thicken (positive) or thin (negative) strokes `width`
    wide in a DIGIT_BOX-sized box so they land in STROKE_RANGE. Changing the strokes also changes
    the box, which is rescaled to DIGIT_BOX, so the two are solved for together."""
    low, high = (SUPERSAMPLE * limit for limit in STROKE_RANGE)
    per_step = 2 * (1 - width / _BOX)  # 2 px more stroke, less the shrink of the rescaled box
    if width < low:
        return round((low - width) / per_step)
    if width > high:
        return -round((width - high) / per_step)
    return 0


def _morph(image: np.ndarray, steps: int) -> np.ndarray:
    """Grey-level dilation (steps > 0) or erosion by |steps| pixels, alternating a cross and a
    square neighbourhood so strokes grow or shrink about equally in every direction."""
    if steps > 0:
        image = _padded(image, 0.0, steps)
    operation = np.maximum if steps > 0 else np.minimum
    for step in range(abs(steps)):
        image = _neighbourhood(image, operation, square=step % 2 == 1, pad_value=0.0)
    return image


def _neighbourhood(image: np.ndarray, operation: np.ufunc, square: bool, pad_value) -> np.ndarray:
    """`operation` (np.maximum / np.minimum) over each pixel's 4 (cross) or 8 (square)
    neighbours and itself, the outside being `pad_value`."""
    padded = _padded(image, pad_value)
    height, width = image.shape
    result = image.copy()
    offsets = [(0, 1), (2, 1), (1, 0), (1, 2)]
    if square:
        offsets += [(0, 0), (0, 2), (2, 0), (2, 2)]
    for dy, dx in offsets:
        operation(result, padded[dy : dy + height, dx : dx + width], out=result)
    return result


def _centred(large: np.ndarray) -> np.ndarray:
    """Place the 4x image so its centre of mass lands on MNIST_CENTRE, then average 4x4 blocks."""
    mass = float(large.sum())
    row_mass = large.sum(axis=1)
    col_mass = large.sum(axis=0)
    centre_y = float(row_mass @ np.arange(row_mass.size, dtype=np.float32)) / mass
    centre_x = float(col_mass @ np.arange(col_mass.size, dtype=np.float32)) / mass
    work = Image.new("F", (_WORK, _WORK))
    # A digit whose centre of mass is far off its middle can overhang the frame: paste clips it.
    work.paste(
        Image.fromarray(large), (round(_WORK_CENTRE - centre_x), round(_WORK_CENTRE - centre_y))
    )
    image = np.asarray(work.reduce(SUPERSAMPLE))
    return image / image.max()


def _box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Slices of the smallest box holding every True pixel, or None when there is none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _padded(image: np.ndarray, value, width: int = 1) -> np.ndarray:
    """The image framed by `width` pixels of `value` (np.pad is ten times slower)."""
    height, breadth = image.shape
    padded = np.full((height + 2 * width, breadth + 2 * width), value, image.dtype)
    padded[width : width + height, width : width + breadth] = image
    return padded


def _border(image: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels, as one array (channels kept)."""
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])
