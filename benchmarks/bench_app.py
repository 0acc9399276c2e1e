"""How quickly the web app answers a person in a real browser: page loads, and the Learn page's slider moves.

Starts ``continuum app`` (this checkout's) on a free port and drives Debian's Chromium with Playwright, with
the browser tests' own helpers (``tests/test_app_browser.py``), so the benchmark and the tests meet the
same page. For each lesson of the Learn page, the slider is moved one step at a time with the arrow keys:
first to values never simulated (the lesson's short study runs), then back over the same values (the
server's cache answers). A move is timed from the key press until the lesson's chart has been redrawn and
the page's script is at rest.

    python benchmarks/bench_app.py              # 4 new and 4 visited values per lesson, 5 page loads
    python benchmarks/bench_app.py --moves 2    # quicker

The figures depend on the machine; run it on an otherwise idle one (the load check on two cores with five
people running at once is ``tests/test_app_browser.py::test_five_sessions_run_at_once``, ``-m slow``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_app_browser as browser_tests  # noqa: E402  (the tests' folder first on the path)
from playwright.sync_api import Locator, Page, sync_playwright  # noqa: E402

LESSONS = ["Little's law", "Why 85%", "Bottlenecks", "Relapse"]


def slider(page: Page) -> Locator:
    """The open lesson's slider: Streamlit's hidden range input, which takes the arrow keys once focused."""
    return page.locator('[role="tabpanel"]:visible [data-testid="stSlider"] input[type="range"]')


def chart_source(page: Page) -> str:
    """The source of the open lesson's chart image (it changes when the chart is redrawn)."""
    return page.locator('[role="tabpanel"]:visible img').last.get_attribute("src") or ""


def move(page: Page, key: str) -> float:
    """Seconds from pressing ``key`` on the open lesson's slider until its chart is redrawn and the page rests."""
    before = chart_source(page)
    started = time.perf_counter()
    slider(page).focus()
    page.keyboard.press(key)
    page.wait_for_function("""before => {
        const images = [...document.querySelectorAll('[role="tabpanel"] img')]
            .filter(image => image.offsetParent !== null);
        const chart = images[images.length - 1];
        return chart && chart.complete && chart.getAttribute('src') !== before;
    }""", arg=before, timeout=60_000)
    browser_tests.at_rest(page, 60)
    return time.perf_counter() - started


def directions(page: Page, moves: int) -> tuple[str, str]:
    """The arrow keys to move ``moves`` steps away from the slider's start and back: towards the far end."""
    low, now, high = (float(slider(page).get_attribute(name) or 0) for name in ("min", "value", "max"))
    return ("ArrowRight", "ArrowLeft") if high - now >= now - low else ("ArrowLeft", "ArrowRight")


def summary(seconds: list[float], what: str = "moves") -> str:
    return (f"median {statistics.median(seconds):.2f} s, range {min(seconds):.2f}-{max(seconds):.2f} s "
            f"({len(seconds)} {what})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=4, help="new values per lesson (then as many visited ones)")
    parser.add_argument("--loads", type=int, default=5, help="page loads to time")
    options = parser.parse_args()
    browser_tests.expect.set_options(timeout=60_000)
    with tempfile.TemporaryDirectory() as folder, browser_tests.served(Path(folder), ctrl_c=True) as app, \
            sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=browser_tests.CHROMIUM,
                                              args=browser_tests.CHROMIUM_FLAGS)
        context = chromium.new_context(viewport=browser_tests.LAPTOP)
        first = browser_tests.open_page(context.new_page(), app.url)
        loads = browser_tests.probe_while(context, app.url, lambda: True, at_most=options.loads)
        print(f"page load (title shown): the server's first {first:.2f} s; then {summary(loads, 'loads')}")
        page = context.new_page()
        page.goto(f"{app.url}/learn")
        browser_tests.at_rest(page, 60)
        for lesson in LESSONS:
            page.get_by_role("tab", name=lesson).click()
            browser_tests.at_rest(page, 60)
            page.wait_for_function("() => document.querySelector('[role=\"tabpanel\"] img')")
            away, back = directions(page, options.moves)
            fresh = [move(page, away) for _ in range(options.moves)]
            visited = [move(page, back) for _ in range(options.moves)]
            print(f"{lesson}: a new value {summary(fresh)}; a value already visited {summary(visited)}")
        chromium.close()


if __name__ == "__main__":
    main()
