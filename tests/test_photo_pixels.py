"""Photo to model pixels, on small drawn images whose exact 28×28 result follows from the rules:
the background is the median of the outermost pixels, a light one is inverted, the contrast is
stretched, the background is trimmed at 5% of full scale, the longest side is fitted to 28 px
(Lanczos-3) and the garment centred. Every image here is at most 160 px, so none is shrunk first."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fmnist.runtime import InputError, inputs


def _photo(width: int, height: int, background: float, dtype=np.uint8) -> np.ndarray:
    return np.full((height, width), background, dtype)


def _expected(*blocks: tuple[slice, slice, int]) -> np.ndarray:
    """A black 28×28 canvas with the given (rows, cols, value) blocks painted on it."""
    canvas = np.zeros((28, 28), np.uint8)
    for rows, cols, value in blocks:
        canvas[rows, cols] = value
    return canvas


def _assert_pixels(image: Image.Image, expected: np.ndarray) -> None:
    pixels = inputs.to_pixels(image)
    assert pixels.dtype == np.uint8 and pixels.shape == (28, 28)
    np.testing.assert_array_equal(pixels, expected)


def test_a_black_rectangle_on_white_becomes_a_bright_centred_block():
    pixels = _photo(60, 50, 255)
    pixels[10:38, 15:35] = 0  # 28 tall, 20 wide: fits as it is, 4 px from each side
    _assert_pixels(Image.fromarray(pixels), _expected((slice(0, 28), slice(4, 24), 255)))


@pytest.mark.parametrize(
    ("background", "garment", "stretched"),
    [
        (204, 124, 100),  # light: inverted to 51 and 131, then (131 - 51) × 255 / 204
        (51, 204, 191),  # dark: (204 - 51) × 255 / 204 = 191.25
        (0, 200, 200),  # black: nothing to stretch
    ],
)
def test_a_gray_garment_is_stretched_so_its_background_becomes_black(background, garment, stretched):
    pixels = _photo(40, 36, background)
    pixels[4:32, 15:25] = garment
    _assert_pixels(Image.fromarray(pixels), _expected((slice(0, 28), slice(9, 19), stretched)))


def test_the_background_is_the_median_of_the_outermost_pixels_only():
    """The outermost ring is half black (top row, left column), half white (bottom row, right
    column); the ring inside it and the middle are gray 64. The median of the ring, the mean of
    its two middle values, is 127.5: light, so inverted to 127.5, and the contrast doubles:
    black becomes 255, white 0 and gray 64 becomes 127. The white bottom row is then background
    and trimmed; the right column is kept, its top pixel being black."""
    pixels = _photo(28, 28, 64)
    pixels[0, :], pixels[:, 0] = 0, 0
    pixels[-1, :], pixels[1:, -1] = 255, 255
    expected = _expected(
        (slice(0, 1), slice(0, 28), 255), (slice(1, 27), slice(0, 1), 255), (slice(1, 27), slice(1, 27), 127)
    )
    _assert_pixels(Image.fromarray(pixels), expected)


def test_a_garment_cut_off_by_the_edges_does_not_change_the_background():
    """The garment covers 60 of the 140 outermost pixels: fewer than half, so the median is still
    the light background, even though more than a third of the border is dark."""
    pixels = _photo(40, 30, 204)
    pixels[20:, :] = 0  # the bottom 10 rows, across the whole width: fitted to 28 × 7, centred
    _assert_pixels(Image.fromarray(pixels), _expected((slice(10, 17), slice(0, 28), 255)))


@pytest.mark.parametrize(
    ("background", "garment"),
    [(127, 255), (128, 0)],  # 127 is dark: the bright garment is kept; 128 is light: the dark one is inverted
)
def test_a_border_of_127_is_dark_and_one_of_128_is_light(background, garment):
    pixels = _photo(40, 40, background)
    pixels[6:34, 10:22] = garment
    _assert_pixels(Image.fromarray(pixels), _expected((slice(0, 28), slice(8, 20), 255)))


def test_a_pixel_at_the_trim_threshold_is_background_and_one_just_above_it_is_garment():
    """On a background of 15 the stretch is × 255 / 240, so 27 becomes exactly 12.75, 5% of full
    scale (trimmed), and 28 becomes 13.8125 (kept, and shown as 14)."""
    pixels = _photo(40, 40, 15)
    pixels[6:33, 6:20] = 255  # 27 rows by 14 columns
    pixels[33, 10] = 28  # just above, under the garment: the crop grows to 28 rows
    pixels[36, 12] = 27  # at the threshold, further below
    pixels[10, 30] = 27  # at the threshold, to the right
    expected = _expected((slice(0, 27), slice(7, 21), 255), (slice(27, 28), slice(11, 12), 14))
    _assert_pixels(Image.fromarray(pixels), expected)


def test_an_image_with_nothing_standing_out_is_uint8_zeros():
    plain = _photo(30, 20, 200)
    faint = plain.copy()
    faint[5:15, 5:25] = 190  # 10 levels off a background of 200: below 5% of full scale
    for pixels in (plain, faint):
        _assert_pixels(Image.fromarray(pixels), _expected())


def test_pixels_lighter_than_the_background_count_as_background():
    """A white highlight on a black garment, on a gray background, is clipped to the background's
    black before the garment is shrunk: the result is the same as with the highlight painted gray."""
    highlighted = _photo(100, 100, 200)
    highlighted[20:76, 20:76] = 0  # 56 px: halved to 28
    painted = highlighted.copy()
    highlighted[40:56, 30:46] = 255
    painted[40:56, 30:46] = 200
    pixels = inputs.to_pixels(Image.fromarray(highlighted))
    np.testing.assert_array_equal(pixels, inputs.to_pixels(Image.fromarray(painted)))
    assert pixels[0, 0] == 255 and pixels[13, 8] == 0  # a garment corner; the middle of the hole


def test_pixels_brighter_than_the_16_bit_range_saturate_to_white():
    """A 32-bit photo is read on the 16-bit scale; twice 65535 is no whiter than 65535."""
    y, x = np.mgrid[:120, :120]
    disc = (y - 60) ** 2 + (x - 57) ** 2 <= 37**2  # a round garment, shrunk from 75 px to 28
    over, full = (Image.fromarray(np.where(disc, value, 0).astype(np.int32)) for value in (131070, 65535))
    assert over.mode == full.mode == "I"
    np.testing.assert_array_equal(inputs.to_pixels(over), inputs.to_pixels(full))


def _stripes(values: list[int], dtype) -> np.ndarray:
    """A 28×28 garment of horizontal stripes, one value a row, 2 px in from a black 32×32 canvas."""
    pixels = _photo(32, 32, 0, dtype)
    pixels[2:30, 2:30] = np.resize(np.asarray(values, dtype), 28)[:, None]
    return pixels


SIXTEEN_BIT = [65535, 65407, 65406, 32896, 25700, 5140]  # 65407 / 257 = 254.502, 65406 / 257 = 254.498


@pytest.mark.parametrize(("dtype", "mode"), [(np.uint16, "I;16"), (np.int32, "I")])
def test_a_16_bit_photo_is_scaled_by_its_full_range(dtype, mode):
    image = Image.fromarray(_stripes(SIXTEEN_BIT, dtype))
    assert image.mode == mode
    scaled = np.rint(np.asarray(SIXTEEN_BIT) * 255 / 65535).astype(np.uint8)  # 255, 255, 254, 128, 100, 20
    expected = np.zeros((28, 28), np.uint8)
    expected[:] = np.resize(scaled, 28)[:, None]
    _assert_pixels(image, expected)


@pytest.mark.parametrize(("dtype", "mode"), [(np.uint16, "I;16"), (np.int32, "I"), (np.float32, "F")])
def test_a_photo_with_values_up_to_255_is_read_as_8_bit(dtype, mode):
    values = [255, 200, 100, 37]
    image = Image.fromarray(_stripes(values, dtype))
    assert image.mode == mode
    expected = np.zeros((28, 28), np.uint8)
    expected[:] = np.resize(np.asarray(values, np.uint8), 28)[:, None]
    _assert_pixels(image, expected)


@pytest.mark.parametrize(("dtype", "mode"), [(np.uint16, "I;16"), (np.int32, "I")])
def test_an_integer_photo_whose_brightest_pixel_is_256_is_on_the_16_bit_scale(dtype, mode):
    image = Image.fromarray(_stripes([256], dtype))  # 256 / 257 of one level: nothing stands out
    assert image.mode == mode
    _assert_pixels(image, _expected())


@pytest.mark.parametrize(("dtype", "mode"), [(np.uint16, "I;16"), (np.int32, "I")])
def test_an_integer_photo_of_zeros_and_ones_is_nearly_black_not_full_contrast(dtype, mode):
    image = Image.fromarray(_stripes([1], dtype))  # only a float photo uses the 0..1 range
    assert image.mode == mode
    _assert_pixels(image, _expected())


def test_a_float_photo_in_0_to_1_is_scaled_to_0_to_255():
    values = [1.0, 0.75, 0.25]  # 255, 191.25, 63.75
    image = Image.fromarray(_stripes(values, np.float32))
    assert image.mode == "F"
    expected = np.zeros((28, 28), np.uint8)
    expected[:] = np.resize(np.asarray([255, 191, 64], np.uint8), 28)[:, None]
    _assert_pixels(image, expected)


def test_a_float_photo_past_1_is_on_the_0_to_255_scale():
    image = Image.fromarray(_stripes([1.5], np.float32))  # one and a half levels: nothing stands out
    assert image.mode == "F"
    _assert_pixels(image, _expected())


def _transparent(mode: str) -> Image.Image:
    """Black everywhere, but opaque only in a 28×12 garment: the rest shows white paper."""
    alpha = Image.new("L", (40, 40), 0)
    alpha.paste(255, (14, 6, 26, 34))
    if mode == "LA":
        return Image.merge("LA", (Image.new("L", (40, 40), 0), alpha))
    image = Image.new("P", (40, 40), 1)
    image.putpalette([0, 0, 0] * 256)
    if mode == "PA":
        image.putalpha(alpha)
    else:  # a palette image (a GIF, say) with a transparent colour index
        image.paste(0, (0, 0, 40, 40), Image.eval(alpha, lambda a: 255 - a))
        image.info["transparency"] = 0
    return image


@pytest.mark.parametrize("mode", ["LA", "PA", "P with a transparent index"])
def test_transparent_pixels_are_white_background(mode):
    image = _transparent(mode)
    assert image.mode == mode.split()[0]
    _assert_pixels(image, _expected((slice(0, 28), slice(8, 20), 255)))


@pytest.mark.parametrize("vertical", [True, False])
def test_a_line_one_pixel_thin_stays_one_pixel_thin(vertical):
    pixels = _photo(40, 40, 0)
    pixels[6:34, 20] = 255
    expected = _expected((slice(0, 28), slice(13, 14), 255))  # 28 × 1, centred sideways
    if vertical:
        _assert_pixels(Image.fromarray(pixels), expected)
    else:
        _assert_pixels(Image.fromarray(np.ascontiguousarray(pixels.T)), np.ascontiguousarray(expected.T))


def _lanczos3_halved(row: np.ndarray) -> np.ndarray:
    """`row` shrunk to half its length with a Lanczos-3 kernel stretched × 2, taps at pixel centres,
    the weights renormalised where the kernel runs past an end."""
    out = []
    for x in range(len(row) // 2):
        centre = 2 * (x + 0.5)
        taps = np.arange(max(int(centre - 6 + 0.5), 0), min(int(centre + 6 + 0.5), len(row)))
        distance = (taps + 0.5 - centre) / 2
        weights = np.sinc(distance) * np.sinc(distance / 3)
        out.append(weights @ row[taps] / weights.sum())
    return np.asarray(out)


def test_the_garment_is_fitted_with_a_lanczos_3_filter():
    line = np.concatenate([np.full(28, 255.0), np.full(14, 100.0), np.full(14, 180.0)])  # 56 px long, 1 px tall
    pixels = _photo(60, 5, 0)
    pixels[2, 2:58] = line
    expected = _expected()
    expected[13] = np.clip(np.rint(_lanczos3_halved(line)), 0, 255)  # 28 × 1, centred vertically
    _assert_pixels(Image.fromarray(pixels), expected)


def test_an_io_error_reading_a_npy_file_is_an_input_error_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "disk.npy"
    np.save(path, np.zeros((1, 28, 28), np.uint8))

    def failing_read(*args, **kwargs):
        raise OSError("Input/output error")

    monkeypatch.setattr(np, "load", failing_read)
    with pytest.raises(InputError) as caught:
        inputs.read(path)
    assert str(caught.value) == f"{path}: truncated or corrupt .npy file (Input/output error)"


def test_a_photo_larger_than_the_working_size_is_shrunk_by_averaging_boxes_of_pixels():
    noise = np.random.default_rng(1).integers(0, 256, (320, 320), dtype=np.uint8)
    boxes = noise.reshape(160, 2, 160, 2).astype(np.float64).mean(axis=(1, 3))
    gray = inputs._grayscale(Image.fromarray(noise))
    assert gray.dtype == np.float32 and gray.shape == (160, 160)
    assert np.abs(gray - boxes).max() <= 1  # a box filter: no ringing, unlike the default bicubic (55 levels off)


def test_a_colour_jpeg_is_decoded_straight_to_its_luma_at_a_reduced_scale(tmp_path):
    import io

    colours = np.random.default_rng(2).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    colours[:40], colours[-40:], colours[:, :40], colours[:, -40:] = 255, 255, 255, 255  # white background
    buffer = io.BytesIO()
    Image.fromarray(colours, "RGB").save(buffer, "JPEG")
    (tmp_path / "colour.jpg").write_bytes(buffer.getvalue())
    reference = Image.open(io.BytesIO(buffer.getvalue()))
    reference.draft("L", (inputs.WORKING_SIZE, inputs.WORKING_SIZE))  # the decoder's own luma, at 1/2 scale
    assert reference.mode == "L" and reference.size == (200, 200)
    np.testing.assert_array_equal(inputs.load_image(tmp_path / "colour.jpg"), inputs.to_pixels(reference))


def _png(path, width: int, height: int):
    image = Image.new("L", (width, height), 255)
    image.paste(0, (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    image.save(path)
    return path


def test_a_photo_of_exactly_the_pixel_limit_is_read_and_one_pixel_more_is_refused(tmp_path, monkeypatch):
    photo = _png(tmp_path / "photo.png", 40, 30)
    monkeypatch.setenv("FMNIST_MAX_PIXELS", "1200")
    assert inputs.load_image(photo).max() == 255
    monkeypatch.setenv("FMNIST_MAX_PIXELS", "1199")
    with pytest.raises(InputError) as caught:
        inputs.load_image(photo)
    assert str(caught.value) == (
        f"{photo}: 40×30 pixels to decode, more than the 1,199 allowed "
        "(a possible decompression bomb; set FMNIST_MAX_PIXELS to allow more)"
    )


def test_with_pillows_limit_switched_off_no_photo_is_too_large(tmp_path, monkeypatch):
    monkeypatch.delenv("FMNIST_MAX_PIXELS", raising=False)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert inputs.max_pixels() == 2**62
    assert inputs.load_image(_png(tmp_path / "photo.png", 40, 30)).max() == 255


@pytest.mark.parametrize(
    ("error", "reason"), [(OSError("broken data stream"), "broken data stream"), (OSError(), "OSError")]
)
def test_a_decoder_error_is_named_by_its_message_or_else_its_kind(tmp_path, monkeypatch, error, reason):
    photo = _png(tmp_path / "photo.png", 40, 30)

    def failing(image):
        raise error

    monkeypatch.setattr(inputs, "to_pixels", failing)
    with pytest.raises(InputError) as caught:
        inputs.load_image(photo)
    assert str(caught.value) == f"{photo}: cannot decode the image ({reason})"
