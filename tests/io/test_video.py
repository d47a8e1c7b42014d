"""Reading videos: both decoders agree, GIFs are read, sizes round to what the models take."""

import numpy as np
import pytest
import torch

from evs_cli.io import video
from helpers import make_clip


def test_decord_and_pyav_decode_the_same_frames(tmp_path):
    pytest.importorskip("decord")
    src = make_clip(tmp_path / "c.mp4", frames=10)
    a = video.read_video(src)
    b = video._read_av(src).frames
    assert a.frames.shape == (10, 64, 64, 3) and torch.equal(a.frames, b)


def test_gif_is_read(tmp_path):
    from PIL import Image

    imgs = [Image.fromarray(np.full((64, 96, 3), i * 20, np.uint8)) for i in range(5)]
    imgs[0].save(tmp_path / "a.gif", save_all=True, append_images=imgs[1:], duration=100, loop=0)
    v = video.read_video(tmp_path / "a.gif")
    assert v.frames.shape == (5, 64, 96, 3) and abs(float(v.fps) - 10) < 0.5


def test_sizes_round_to_multiples_of_64():
    assert video.target_size(512, 320, 2.0) == (1024, 640)  # VC2 -> the paper's 640x1024
    assert video.target_size(512, 512, 2.0) == (1024, 1024)
    assert video.target_size(100, 30, 1.0) == (128, 64)
