"""`evs compare --html`: the page in a real headless browser (Debian's chromium and chromium-driver, which
.ci/run installs): it loads without a console error, every player plays, and the players of a row move as one.
Outside CI, a machine without the browser skips these with the reason; in CI a missing browser fails."""

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from helpers import evs, make_clip

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        selenium_missing = True
    else:
        selenium_missing = False
    if selenium_missing or not (CHROMIUM and DRIVER):
        why = "needs selenium (the dev extra) and Debian's chromium and chromium-driver (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
              "--window-size=1400,3000", "--mute-audio"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(DRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """Three versions of three clips (one missing from the last version, one in a sub-folder, names with a
    space and a #), their measures from a real `evs eval --json`, and the page."""
    root = tmp_path_factory.mktemp("page")
    names = ["a clip #1.mp4", "sub/b.mp4", "c.mp4"]
    for k, version in enumerate(("in", "t2i", "evs")):
        for j, name in enumerate(names):
            if not (version == "evs" and name == "c.mp4"):
                make_clip(root / version / name, frames=16, fps=8, seed=10 * k + j)
    r = evs("eval", "in", "t2i", "evs", "--json", "scores.json", cwd=root)
    assert r.returncode == 0, r.stderr
    (root / "pages").mkdir()  # compare makes no folders
    r = evs("compare", "in", "t2i", "evs", "--html", "pages/page.html", "--scores", "scores.json",
            cwd=root)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == ("evs: wrote pages/page.html: 3 videos in 3 versions, 1 missing from some version, "
                                "8 with measures")
    return root / "pages" / "page.html"


def wait_for(driver, script: str, timeout: float = 20.0):
    end = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script)
        if value or time.monotonic() > end:
            return value
        time.sleep(0.1)


def errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


ROW_TIMES = "return [...document.querySelectorAll('section.row')[%d].querySelectorAll('video')].map(v => v.currentTime)"


def test_the_page_loads_and_every_player_plays(browser, page):
    browser.get(page.as_uri())
    side = "document.querySelectorAll('.players video')"
    assert browser.execute_script(f"return {side}.length") == 8  # 3 + 3 + 2: the missing one is said, not played
    assert wait_for(browser, f"return [...{side}].every(v => v.readyState >= 2)"), "some video never loaded"
    assert browser.execute_script("return document.querySelectorAll('.missing').length") == 1
    assert browser.find_element("id", "count").text == "3 videos × 3 versions"
    browser.find_element("id", "play-all").click()
    assert wait_for(browser, "return [...document.querySelectorAll('video')].every(v => !v.paused && v.currentTime > 0.3)"), \
        browser.execute_script("return [...document.querySelectorAll('video')].map(v => [v.paused, v.currentTime])")
    assert errors(browser) == []


def test_seeking_one_player_seeks_the_others(browser, page):
    browser.get(page.as_uri())
    wait_for(browser, "return [...document.querySelectorAll('video')].every(v => v.readyState >= 2)")
    # a user dragging the second player's own time bar
    browser.execute_script("document.querySelectorAll('section.row')[0].querySelectorAll('.players video')[1]"
                           ".currentTime = 1.25")
    assert wait_for(browser, (ROW_TIMES % 0) + ".every(t => Math.abs(t - 1.25) < 0.01)"), browser.execute_script(ROW_TIMES % 0)
    assert all(t == 0 for t in browser.execute_script(ROW_TIMES % 1)), "another row moved"
    # the row's own bar: 250/1000 of a 2 s clip
    browser.execute_script("const s = document.querySelectorAll('section.row')[1].querySelector('input.seek');"
                           "s.value = 250; s.dispatchEvent(new Event('input'));")
    assert wait_for(browser, (ROW_TIMES % 1) + ".every(t => Math.abs(t - 0.5) < 0.01)"), browser.execute_script(ROW_TIMES % 1)
    # playing one plays its row, pausing one pauses it
    browser.execute_script("document.querySelectorAll('section.row')[1].querySelectorAll('.players video')[1].play()")
    row1 = "[...document.querySelectorAll('section.row')[1].querySelectorAll('video')]"
    assert wait_for(browser, f"return {row1}.every(v => !v.paused)")
    browser.execute_script("document.querySelectorAll('section.row')[1].querySelector('video').pause()")
    assert wait_for(browser, f"return {row1}.every(v => v.paused)")
    assert browser.execute_script("return [...document.querySelectorAll('section.row')[0].querySelectorAll('video')]"
                                  ".every(v => v.paused)")
    assert errors(browser) == []


def test_the_wipe_shows_two_versions_split_where_the_pointer_is(browser, page):
    from selenium.webdriver.common.action_chains import ActionChains

    browser.get(page.as_uri())
    browser.execute_script("const v = document.querySelector('select.view'); v.value = 'wipe';"
                           "v.dispatchEvent(new Event('change'));")
    row = "document.querySelectorAll('section.row')[0]"
    assert browser.execute_script(f"return [{row}.querySelector('.players').hidden, {row}.querySelector('.wipe').hidden]") \
        == [True, False]
    stage = browser.execute_script(f"return {row}.querySelector('.stage')")
    wait_for(browser, f"return {row}.querySelector('.stage video').readyState >= 2")
    width = stage.size["width"]
    ActionChains(browser).move_to_element_with_offset(stage, -width // 4, 0).perform()  # a quarter from the left
    clip = browser.execute_script(f"return {row}.querySelector('.stage video.top').style.clipPath")
    assert clip.startswith("inset(0px 0px 0px 2") and clip.endswith("%)"), clip
    left, right = browser.execute_script(f"return [...{row}.querySelectorAll('.stage video')].map(v => v.src)")
    assert left.endswith("/in/a%20clip%20%231.mp4") and right.endswith("/evs/a%20clip%20%231.mp4")
    assert errors(browser) == []


def test_sorting_puts_the_most_changed_first(browser, page):
    scores = json.loads((page.parent.parent / "scores.json").read_text())["videos"]
    flicker = {(r["group"], r["name"]): r["flicker"] for r in scores}
    change = {name: max(abs(flicker[(v, name)] - flicker[("in", name)]) for v in ("t2i", "evs") if (v, name) in flicker)
              for name in ("a clip #1.mp4", "sub/b.mp4", "c.mp4")}
    expected = [Path(n).with_suffix("").as_posix() for n in sorted(change, key=change.get, reverse=True)]
    browser.get(page.as_uri())
    names = "return [...document.querySelectorAll('section.row .name')].map(e => e.textContent)"
    assert browser.execute_script(names) == ["a clip #1", "c", "sub/b"]
    browser.execute_script("const s = document.getElementById('sort'); s.value = 'flicker';"
                           "s.dispatchEvent(new Event('change'));")
    assert browser.execute_script(names) == expected
    assert errors(browser) == []


@pytest.fixture
def two_folders(tmp_path):
    for version in ("in", "out"):
        make_clip(tmp_path / version / "x.mp4", frames=4)
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["in", "out/x.mp4", "--html", "p.html"], "evs: error: give videos or folders, not both: in is a folder, out/x.mp4 a file"),
    (["in", "out", "--png", "s.png"], "evs: error: in: is a folder; --png, --plot and --mp4 take videos (use --html for folders)"),
    (["in", "nowhere", "--html", "p.html"], "evs: error: nowhere: no such file or folder"),
    (["in/x.mp4", "out/x.mp4", "--png", "s.png", "--scores", "s.json"],
     "evs: error: --scores is shown only on the --html page: give --html FILE too"),
    (["in", "out", "--html", "p.html", "--scores", "s.json"],
     "evs: error: s.json: cannot read the scores file (No such file or directory)"),
    (["in", "out", "--html", "p.html", "--labels", "a,b,c"], "evs: error: --labels has 3 labels for 2 folders"),
])
def test_mistakes_are_one_line_and_write_nothing(two_folders, args, message):
    r = evs("compare", *args, cwd=two_folders)
    assert (r.returncode, r.stdout, r.stderr.strip()) == (2, "", message)
    assert not list(two_folders.glob("*.html")) and not list(two_folders.glob("*.png"))
    assert not [p for p in two_folders.iterdir() if p.name.startswith(".")]


def test_the_page_replaces_an_old_one_whole_and_quiet_means_quiet(two_folders):
    (two_folders / "p.html").write_text("old")
    r = evs("compare", "in", "out", "--html", "p.html", "-q", cwd=two_folders)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    html = (two_folders / "p.html").read_text()
    assert html.startswith("<!doctype html>") and '"labels": ["in", "out"]' in html
    assert sorted(p.name for p in two_folders.iterdir()) == ["in", "out", "p.html"]
