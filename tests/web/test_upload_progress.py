"""A large upload shows its progress, and the page stays put while the file travels."""

from tests.web.conftest import hour_start, iso, sign_up_in_browser

ROWS = 20_000  # about 1 MB of CSV


def test_a_slow_upload_shows_progress_then_the_result(page, live_url, shoot, tmp_path):
    sign_up_in_browser(page, live_url, "progress@example.com", "Progress Works")
    lines = ["timestamp_utc,site_id,meter_id,value"]
    lines += [f"{iso(hour_start(h))},big-site,m{h % 4},{h % 97}.5" for h in range(ROWS)]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    size = path.stat().st_size

    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    # About three seconds for the file: slow enough to watch the bar move.
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": size / 3,
        },
    )
    page.goto(live_url + "/upload")
    page.set_input_files("#file", str(path))
    page.click("text=Upload and store")
    page.wait_for_selector("[data-upload-progress]:not([hidden])")
    # (wait_for_function would evaluate a string, which the page's CSP forbids.)
    for _ in range(100):
        if page.evaluate("() => document.querySelector('#upload-progress-bar').value") > 0:
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("the progress bar never moved")
    text = page.inner_text("[data-upload-progress-text]")
    assert "MB" in text or "Sent" in text
    assert page.is_disabled("[data-upload-form] button[type=submit]")
    shoot(page, "upload-in-progress")
    page.wait_for_selector("[data-upload-result] [data-count=ingested]", timeout=60000)
    assert page.inner_text("[data-count=rows]") == f"{ROWS:,}"
    ingested = int(page.inner_text("[data-count=ingested]").replace(",", ""))
    failed = int(page.inner_text("[data-count=failed]").replace(",", ""))
    assert ingested + failed == ROWS and ingested > 0
    assert page.locator("[data-upload-progress]").is_hidden()
    shoot(page, "upload-done")
    page.problems.check()
