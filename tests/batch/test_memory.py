"""The memory estimate that keeps one long video from getting a whole run OOM-killed."""

from pathlib import Path

import pytest

from evs_cli.batch.memory import LATENT_COPIES, check_memory, host_available, needs, parse_bytes
from evs_cli.errors import EvsError


@pytest.mark.parametrize("text,value", [("auto", None), ("512M", 512 * 2**20), ("8G", 8 * 2**30), ("8GiB", 8 * 2**30),
                                        ("1.5T", int(1.5 * 2**40)), ("1000", 1000), ("64k", 64 * 2**10)])
def test_sizes_read_as_people_write_them(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["lots", "-1G", "0", "8X", ""])
def test_a_size_that_is_not_one_is_named(text):
    with pytest.raises(EvsError, match="--max-memory must be auto or a size"):
        parse_bytes(text)


def test_the_estimate_counts_frames_in_out_and_latents():
    host, device = needs(16, (512, 320), (1024, 640), (1024, 640))
    assert host == 16 * (512 * 320 * 3 + 2 * 1024 * 640 * 3)
    assert device == 16 * (LATENT_COPIES * 4 * 128 * 80 * 4 + 1024 * 640 * 3)
    long_host, _ = needs(10_000, (512, 320), (1024, 640), (1024, 640))
    assert long_host > 40 * 2**30  # a 10,000-frame clip is refused on a 24 GiB machine


def test_over_the_limit_fails_with_the_sizes_and_the_flag():
    with pytest.raises(EvsError) as e:
        check_memory(Path("long.mp4"), 10_000, (512, 320), (1024, 640), (1024, 640), 16 * 2**30, "cuda:0")
    assert str(e.value).startswith("long.mp4: 10000 frames of 512x320 (refined at 1024x640) need about ")
    assert "over --max-memory 16.0 GiB" in str(e.value)
    check_memory(Path("short.mp4"), 16, (512, 320), (1024, 640), (1024, 640), 16 * 2**30, "cuda:0")  # fits
    check_memory(Path("unknown.mp4"), None, (512, 320), (1024, 640), (1024, 640), 1, "cpu")  # no count: no guess


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="Linux only")
def test_what_is_available_is_read_from_the_system():
    free = host_available()
    assert free is not None and 0 < free <= 2**50
    with pytest.raises(EvsError, match=r"is available; split the video"):
        check_memory(Path("huge.mp4"), 10**6, (1024, 1024), (1024, 1024), (1024, 1024), None, "cpu")
