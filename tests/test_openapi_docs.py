"""The docs page works with no internet: it and everything it references come from the app itself."""

import re
from html.parser import HTMLParser


class References(HTMLParser):
    """Every src and href in a page."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_docs_page_and_its_assets_are_served_by_the_app(make_app):
    client = make_app().test_client()
    client.environ_base.pop("HTTP_X_API_KEY", None)  # open: no key needed

    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]", html), "the page names another host"
    parser = References()
    parser.feed(html)
    assert len(parser.found) == 3
    for reference in parser.found:
        with client.get(reference) as asset:
            assert asset.status_code == 200, reference
            assert asset.get_data(), reference
    assert "/api/v1/openapi.json" in html
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_only_the_pages_own_assets_are_served(make_app):
    client = make_app().test_client()

    assert client.get("/api/v1/docs/index.html").status_code == 404
    assert client.get("/api/v1/docs/swagger-initializer.js").status_code == 404
    with client.get("/api/v1/docs/swagger-ui-bundle.js") as script:
        assert script.mimetype == "text/javascript"
