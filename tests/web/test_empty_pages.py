"""Every page of a brand-new organization, in the browser: it renders, says what to do next,
and runs its scripts under the strict CSP without a single console error."""

from tests.web.conftest import sign_up_in_browser, unlabelled_controls

PAGES = {
    "dashboard": "/",
    "sites": "/sites",
    "new-site": "/sites/new",
    "alerts": "/alerts",
    "reports": "/reports",
    "upload": "/upload",
    "settings": "/settings",
}


def test_every_page_with_no_data(page, live_url, shoot):
    sign_up_in_browser(page, live_url, "empty@example.com", "Empty Works")
    for name, path in PAGES.items():
        response = page.goto(live_url + path)
        assert response.status == 200, path
        assert page.locator("main h1").count() == 1, path
        assert page.locator('nav a[aria-current="page"]').count() == 1, path
        assert unlabelled_controls(page) == [], path
        shoot(page, name)
    page.problems.check()


def test_missing_pages_are_styled(page, live_url, shoot):
    sign_up_in_browser(page, live_url, "lost@example.com", "Lost Works")
    response = page.goto(live_url + "/sites/somebody-elses-site")
    assert response.status == 404
    assert page.inner_text("main h1") == "Page not found"
    assert page.locator("nav").count() == 1
    shoot(page, "not-found")
    response = page.goto(live_url + "/api/v1/sites/somebody-elses-site")
    assert response.status == 404
    assert response.headers["content-type"].startswith("application/json")
    page.problems.check()
