"""Reading images of every kind the way a photo viewer shows them; clear errors otherwise."""

import numpy as np
import pytest
from PIL import Image

from pyimagesearch.nn.conv import ImageError
from pyimagesearch.nn.conv.images import image_size, load_rgb, write_image


def test_exif_rotated_photo_is_upright(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)  # left half red
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # stored sideways: viewers rotate it 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=95)
    assert image_size(str(path)) == (20, 40)
    rgb = load_rgb(str(path))
    assert rgb.shape == (40, 20, 3)
    assert rgb[5, 10, 0] > 200 and rgb[35, 10, 0] < 50  # red is now on top


def test_transparency_is_shown_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = (0, 0, 255, 255)  # opaque blue top, transparent bottom
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    rgb = load_rgb(str(path))
    assert tuple(rgb[0, 0]) == (0, 0, 255) and tuple(rgb[3, 3]) == (255, 255, 255)


def test_sixteen_bit_image_is_scaled_not_clipped(tmp_path):
    gray = np.array([[0, 16384], [32768, 65535]], np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(gray).save(path)
    rgb = load_rgb(str(path))
    assert list(rgb[..., 0].ravel()) == [0, 64, 128, 255]


def test_grayscale_and_palette_become_rgb(tmp_path):
    Image.new("L", (5, 3), 90).save(tmp_path / "gray.png")
    Image.new("RGB", (5, 3), (10, 200, 30)).convert("P").save(tmp_path / "palette.png")
    assert tuple(load_rgb(str(tmp_path / "gray.png"))[1, 1]) == (90, 90, 90)
    assert load_rgb(str(tmp_path / "palette.png")).shape == (3, 5, 3)


def test_resize_to_given_size(tmp_path):
    Image.new("RGB", (30, 10), (1, 2, 3)).save(tmp_path / "a.png")
    assert load_rgb(str(tmp_path / "a.png"), size=(12, 7)).shape == (7, 12, 3)


@pytest.mark.parametrize("make, words", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b""), "could not be read"),
    (lambda p: p.write_text("hello, I am text"), "could not be read"),
    (lambda p: p.mkdir(), "is a folder"),
])
def test_unreadable_files_name_the_file(tmp_path, make, words):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(ImageError, match=words) as e:
        load_rgb(str(path))
    assert "bad.png" in str(e.value)


def test_truncated_file_names_the_file(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="t.png"):
        load_rgb(str(tmp_path / "t.png"))


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "x.png"
    write_image(str(path), np.zeros((3, 3, 3), np.uint8))
    write_image(str(path), np.full((3, 3, 3), 255, np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    assert Image.open(path).getpixel((0, 0)) == (255, 255, 255)


def test_animation_uses_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (6, 4), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert Image.open(tmp_path / "anim.gif").n_frames == 2
    r, g, b = load_rgb(str(tmp_path / "anim.gif"))[2, 3]
    assert r > 200 and b < 50
