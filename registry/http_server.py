"""The registry's plain-HTTP listener: what is not an RPC (Prometheus
`/metrics`, the OpenAPI document at `/openapi.json`). Envoy routes these paths
here with transcoding disabled. Errors use the same google.rpc.Status JSON shape
as the transcoded API."""

from __future__ import annotations

import json
from importlib.resources import files

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

NOT_FOUND = 5  # google.rpc.Code.NOT_FOUND


# Written by `make gen` beside the generated stubs (registry.openapi), so it ships in the wheel.
OPENAPI = files("temporal_registry.v1").joinpath("openapi.json")


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


def build_http_app() -> web.Application:
    app = web.Application(middlewares=[_status_errors])
    app.router.add_get("/metrics", _metrics)
    openapi = OPENAPI.read_bytes()  # once, at startup: no file reads on the event loop

    async def serve_openapi(request: web.Request) -> web.Response:
        return web.Response(body=openapi, content_type="application/json")

    app.router.add_get("/openapi.json", serve_openapi)
    return app


async def start_http_server(host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(build_http_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
