"""The registry's plain-HTTP listener: what is not an RPC (Prometheus
`/metrics`, the OpenAPI document at `/openapi.json`, and `/docs`, Swagger UI
served from the openapi-ui-bundles wheel, so it works offline). Envoy routes
these paths here with transcoding disabled. Errors use the same
google.rpc.Status JSON shape as the transcoded API."""

from __future__ import annotations

import json
from importlib.resources import files

from aiohttp import web
from aiohttp.typedefs import Handler
from openapi_ui_bundles.swagger_ui import static_path
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from registry.server.auth import Authenticator
from registry.server.errors import RegistryError

NOT_FOUND = 5  # google.rpc.Code.NOT_FOUND


# Written by `make gen` beside the generated stubs (registry.openapi), so it ships in the wheel.
OPENAPI = files("temporal_registry.v1").joinpath("openapi.json")
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>temporal-registry API</title>
  <link rel="icon" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
  </script>
</body>
</html>
"""


async def _metrics(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


@web.middleware
async def _status_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        body = {
            "code": NOT_FOUND if error.status == 404 else 2,
            "message": error.reason,
            "details": [],
        }
        return web.Response(
            status=error.status, text=json.dumps(body), content_type="application/json"
        )


def build_http_app(metrics_auth: Authenticator | None = None) -> web.Application:
    app = web.Application(middlewares=[_status_errors])

    async def serve_metrics(request: web.Request) -> web.Response:
        if metrics_auth is not None:
            try:
                metrics_auth.scopes(request.headers)
            except RegistryError as error:
                body = {"code": error.code.value[0], "message": error.message, "details": []}
                return web.json_response(body, status=401)
        return await _metrics(request)

    app.router.add_get("/metrics", serve_metrics)
    openapi = OPENAPI.read_bytes()  # once, at startup: no file reads on the event loop

    async def serve_openapi(request: web.Request) -> web.Response:
        return web.Response(body=openapi, content_type="application/json")

    app.router.add_get("/openapi.json", serve_openapi)

    assets = {name: (static_path / name).read_bytes() for name in DOCS_ASSETS}

    async def serve_docs(request: web.Request) -> web.Response:
        return web.Response(text=DOCS_PAGE, content_type="text/html")

    async def serve_asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in assets:
            raise web.HTTPNotFound(reason=f"no such file: /docs/{name}")
        return web.Response(body=assets[name], content_type=DOCS_ASSETS[name])

    app.router.add_get("/docs", serve_docs)
    app.router.add_get("/docs/", serve_docs)
    app.router.add_get("/docs/{name}", serve_asset)
    return app


async def start_http_server(
    host: str, port: int, *, metrics_auth: Authenticator | None = None
) -> web.AppRunner:
    runner = web.AppRunner(build_http_app(metrics_auth), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
