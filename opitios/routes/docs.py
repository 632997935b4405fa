"""The OpenAPI description and the docs page, with the Swagger UI assets of the installed swagger-ui-bundle (no CDN)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

from opitios import extensions
from opitios.endpoints import DOCUMENT
from opitios.openapi import build_spec
from opitios.routes.declare import declare

bp = Blueprint("docs", __name__)

# The page's assets: only these files of the bundle are served.
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>opitios API</title>
<link rel="stylesheet" href="{css}">
<link rel="icon" type="image/png" href="{icon}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{js}"></script>
<script>
window.ui = SwaggerUIBundle({{url: {spec}, dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"}});
</script>
</body>
</html>
"""


@bp.get("/openapi.json")
@declare(DOCUMENT, "This OpenAPI description")
def openapi():
    # Built once per runtime configuration: the description states the batch limit in force.
    parts = extensions.current()
    version = parts.runtime.version
    if parts.described is None or parts.described[0] != version:
        parts.described = (version, build_spec(current_app))
    return current_app.json.response(parts.described[1])


@bp.get("/docs")
@declare(DOCUMENT, "The API documentation page (served with its assets, no internet needed)", media_type="text/html")
def page():
    css, js, icon = (url_for("docs.asset", filename=name) for name in ASSETS)
    html = PAGE.format(css=css, icon=icon, js=js, spec=json.dumps(url_for("docs.openapi")))
    return Response(html, mimetype="text/html")


@bp.get("/docs/<filename>")
def asset(filename: str):
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(str(swagger_ui_path), filename)
