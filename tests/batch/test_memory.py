"""The memory estimate that keeps one long video from getting a whole run OOM-killed."""

from pathlib import Path

import pytest

from evs_cli.batch.options import Limits, OutputPolicy, RunOptions
from evs_cli.batch.planning import memory
from evs_cli.batch.planning.memory import LATENT_COPIES, check_fits, check_memory, host_available, needs, parse_bytes
from evs_cli.engine.preset import load_preset
from evs_cli.errors import EvsError
from evs_cli.io.video import Header
from helpers import make_clip


@pytest.mark.parametrize("text,value", [("auto", None), ("512M", 512 * 2**20), ("8G", 8 * 2**30), ("8GiB", 8 * 2**30),
                                        ("1.5T", int(1.5 * 2**40)), ("1000", 1000), ("64k", 64 * 2**10),
                                        ("1", 1), ("0.5K", 512), (" 2 mib ", 2 * 2**20), ("3gb", 3 * 2**30),
                                        ("AUTO", None)])
def test_sizes_read_as_people_write_them(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["lots", "-1G", "0", "8X", "", "0.0M", "8 G B", "1e3"])
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


def _system(tmp_path, monkeypatch, meminfo=None, cgroup=None, files=None):
    """A fake /proc and /sys under tmp_path, as memory.py reads them."""
    for rel, text in {"proc/meminfo": meminfo, "proc/self/cgroup": cgroup, **(files or {})}.items():
        if text is not None:
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(text)
    monkeypatch.setattr(memory, "Path", lambda p: tmp_path / str(p).lstrip("/"))


def test_without_a_cgroup_what_is_available_is_memavailable(tmp_path, monkeypatch):
    _system(tmp_path, monkeypatch, meminfo="MemTotal: 999 kB\nMemFree: 5 kB\nMemAvailable:  300 kB\n")
    assert host_available() == 300 * 1024
    _system(tmp_path / "none", monkeypatch)
    assert host_available() is None  # not Linux: nothing to read, nothing guessed


def test_a_cgroup_v2_limit_and_its_parents_limits_count_whichever_leaves_least(tmp_path, monkeypatch):
    cg = "sys/fs/cgroup/job/step"
    _system(tmp_path, monkeypatch, meminfo="MemAvailable: 1000000 kB\n", cgroup="0::/job/step\n", files={
        f"{cg}/memory.max": "max\n", f"{cg}/memory.current": "5\n",  # the step: no limit of its own
        "sys/fs/cgroup/job/memory.max": "1000\n", "sys/fs/cgroup/job/memory.current": "400\n",  # the job: 600 left
        "sys/fs/cgroup/memory.max": "5000\n", "sys/fs/cgroup/memory.current": "100\n"})
    assert host_available() == 600
    (tmp_path / "sys/fs/cgroup/memory.current").write_text("4900")  # the root leaves 100
    assert host_available() == 100
    (tmp_path / "sys/fs/cgroup/job/memory.current").write_text("2000")  # over its limit: nothing left, not less
    assert host_available() == 0


def test_a_cgroup_v1_memory_limit_counts_and_its_no_limit_number_does_not(tmp_path, monkeypatch):
    v1 = "sys/fs/cgroup/memory/slurm/job_7"
    _system(tmp_path, monkeypatch, meminfo="MemAvailable: 20 kB\n",
            cgroup="12:cpu,cpuacct:/other\n11:memory,hugetlb:/slurm/job_7\n", files={
                f"{v1}/memory.limit_in_bytes": "50000\n", f"{v1}/memory.usage_in_bytes": "20000\n",
                "sys/fs/cgroup/memory/slurm/memory.limit_in_bytes": str(2**63 - 4096),
                "sys/fs/cgroup/memory/slurm/memory.usage_in_bytes": "0",
                "sys/fs/cgroup/cpu,cpuacct/other/memory.limit_in_bytes": "1"})  # not a memory cgroup
    assert host_available() == 20 * 1024  # MemAvailable is less than the job's 30000
    (tmp_path / "proc/meminfo").write_text("MemAvailable: 1000 kB\n")
    assert host_available() == 30000
    (tmp_path / f"{v1}/memory.usage_in_bytes").write_text("garbage")  # unreadable: that cgroup is skipped
    assert host_available() == 1000 * 1024


def test_each_cgroup_from_this_processes_own_up_to_the_root_is_read(tmp_path, monkeypatch):
    _system(tmp_path, monkeypatch, cgroup="0::/a/b\n")
    root = tmp_path / "sys/fs/cgroup"
    assert [(str(f.relative_to(tmp_path)), *names) for f, *names in memory._cgroup_folders()] == [
        ("sys/fs/cgroup/a/b", "memory.max", "memory.current"), ("sys/fs/cgroup/a", "memory.max", "memory.current"),
        ("sys/fs/cgroup", "memory.max", "memory.current")]
    assert root not in [f for f, *_ in memory._cgroup_folders()][:-1]
    _system(tmp_path, monkeypatch, cgroup="0::/\n")
    assert [f for f, *_ in memory._cgroup_folders()] == [root]


def test_sizes_are_said_in_the_largest_unit_they_reach():
    assert [memory._gb(n) for n in (0, 1023, 1024, 1536, 2**20 - 1, 2**20, 3 * 2**30, 2**40)] == [
        "0 bytes", "1023 bytes", "1.0 KiB", "1.5 KiB", "1024.0 KiB", "1.0 MiB", "3.0 GiB", "1024.0 GiB"]


def test_the_limit_is_reached_only_past_it_and_on_a_cpu_the_device_part_counts_in_host_memory():
    args = (16, (512, 320), (1024, 640), (1024, 640))
    host, dev = needs(*args)
    check_memory(Path("v.mp4"), *args, host, "cuda:0")  # exactly the limit: fits
    with pytest.raises(EvsError, match="over --max-memory"):
        check_memory(Path("v.mp4"), *args, host - 1, "cuda:0")
    check_memory(Path("v.mp4"), *args, host, None)  # a dry run knows no device: the host's part
    check_memory(Path("v.mp4"), *args, host + dev, "cpu")
    with pytest.raises(EvsError, match="over --max-memory"):
        check_memory(Path("v.mp4"), *args, host + dev - 1, "cpu")
    check_memory(Path("v.mp4"), 0, (512, 320), (1024, 640), (1024, 640), 1, "cpu")  # no frames counted: no guess


def test_without_a_limit_what_the_host_and_the_device_have_free_decides(monkeypatch):
    args = (16, (512, 320), (1024, 640), (1024, 640))
    host, dev = needs(*args)
    monkeypatch.setattr(memory, "host_available", lambda: host)
    monkeypatch.setattr(memory, "device_available", lambda device: dev)
    check_memory(Path("v.mp4"), *args, None, "cuda:1")  # both exactly enough
    with pytest.raises(EvsError) as e:
        check_memory(Path("v.mp4"), *args, None, "cpu")  # host + device in host memory
    assert str(e.value) == (f"v.mp4: 16 frames of 512x320 (refined at 1024x640) need about {memory._gb(host + dev)} "
                            f"of memory, {memory._gb(host)} is available; split the video, --resize down, or free "
                            "memory (--max-memory overrides this check)")
    monkeypatch.setattr(memory, "device_available", lambda device: dev - 1)
    with pytest.raises(EvsError) as e:
        check_memory(Path("v.mp4"), *args, None, "cuda:1")
    assert str(e.value) == (f"v.mp4: 16 frames of 512x320 (refined at 1024x640) need about {memory._gb(dev)} on "
                            f"cuda:1, {memory._gb(dev - 1)} is free there; split the video or --resize down")
    check_memory(Path("v.mp4"), *args, None, None)  # a dry run: no device asked
    monkeypatch.setattr(memory, "host_available", lambda: None)
    monkeypatch.setattr(memory, "device_available", lambda device: None)
    check_memory(Path("v.mp4"), *args, None, "cuda:1")  # nothing known: nothing refused


def test_a_cpu_has_no_device_memory_of_its_own():
    assert memory.device_available("cpu") is None and memory.device_available("mps") is None


def test_a_video_over_max_pixels_is_refused_from_its_header_at_the_size_it_would_be_refined(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", frames=3, size=(128, 64))
    preset = load_preset("vc2")  # resize 2: refined at 256x128
    fits = RunOptions(preset, limits=Limits(max_pixels=256 * 128))
    assert check_fits(clip, fits) == Header(128, 64, 3)
    with pytest.raises(EvsError) as e:
        check_fits(clip, RunOptions(preset, limits=Limits(max_pixels=256 * 128 - 1)))
    assert str(e.value) == (f"{clip}: frames of 128x64 would be refined at 256x128 (0.0 megapixels), over "
                            f"--max-pixels {256 * 128 - 1}; raise it, or --resize down")
    assert check_fits(tmp_path / "not-a-video.mp4", fits) is None  # reading it says why


def test_the_memory_check_gets_the_output_size_and_the_limit_the_options_ask_for(tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "c.mp4", frames=3, size=(128, 64))
    seen = []
    monkeypatch.setattr(memory, "check_memory", lambda *a: seen.append(a))
    options = RunOptions(load_preset("vc2"), output=OutputPolicy(scale=0.5), limits=Limits(max_memory=123))
    check_fits(clip, options, "cuda:3")
    assert seen == [(clip, 3, (128, 64), (256, 128), (64, 32), 123, "cuda:3")]
