"""The API's own documentation: /docs (Swagger UI) and /redoc, served from the app's files (no CDN), and an
OpenAPI schema that tells the truth about errors and sign-in.

The Swagger UI and ReDoc scripts come from the `fastapi-offline` package (its static folder only), mounted
at /docs-assets. The schema gains:

- `ErrorBody`, the one error shape (api/errors.py), as the body of every error response, FastAPI's own
  422 included (the app answers a validation error in that shape too);
- the common error responses of each route: 401 and 403 where the route needs an account, 404 where it has
  a path parameter, 409 where it changes something, 422 where it takes input;
- the two ways to sign in (api/auth.py): `Authorization: Bearer <token>` and the session cookie, as security
  schemes, required by every route that needs an account.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from api.auth import SESSION_COOKIE, route_accesses, route_contexts
from api.errors import ErrorBody

ASSETS_URL = "/docs-assets"
DOCS_URL, REDOC_URL = "/docs", "/redoc"
BEARER, COOKIE = "bearerToken", "sessionCookie"
SECURITY_SCHEMES = {
    BEARER: {"type": "http", "scheme": "bearer",
             "description": "An API token from an administrator (POST /v1/accounts/{username}/tokens)."},
    COOKIE: {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
             "description": "The HttpOnly session cookie that POST /v1/auth/login sets."},
}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_COMMON = {
    401: "Not signed in, or the session or token has expired (code `unauthorized`).",
    403: "Signed in, but this account may not do it (e.g. `forbidden`, `outside_region`).",
    404: "What the path names does not exist (e.g. `entry_not_found`, `change_not_found`).",
    409: "The state does not allow it now (e.g. `change_open`, `stale`).",
    422: "The request cannot be used as it is (`invalid_request`, with details; or e.g. `invalid_entry`).",
}
_CHANGING = {"post", "put", "patch", "delete"}


def assets_path() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def install_docs(app: FastAPI) -> None:
    """Replaces FastAPI's CDN-served /docs and /redoc by pages whose scripts this app serves, and documents
    the error shape and the security schemes in the OpenAPI schema. Call it before the routers are included."""
    dropped = {app.docs_url, app.redoc_url}
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in dropped]
    app.docs_url = app.redoc_url = None
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url

    app.mount(ASSETS_URL, StaticFiles(directory=assets_path()), name="docs-assets")

    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{app.title} – API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js", swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}" if oauth2_redirect_url else None,
            # Swagger UI's default would load a validity badge from validator.swagger.io.
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None})

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{openapi_url}", title=f"{app.title} – API (ReDoc)",
                              redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png", with_google_fonts=False)

    app.add_route(DOCS_URL, swagger, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)
    if oauth2_redirect_url and not any(getattr(r, "path", None) == oauth2_redirect_url for r in app.router.routes):
        app.add_route(oauth2_redirect_url, lambda request: get_swagger_ui_oauth2_redirect_html(), include_in_schema=False)

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors_and_security(generate(), app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]




def document_errors_and_security(schema: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ErrorBody"] = body
    components["securitySchemes"] = {**components.get("securitySchemes", {}), **SECURITY_SCHEMES}

    for context in route_contexts(app):
        original = getattr(context, "original_route", context)
        if not isinstance(original, APIRoute) or not original.include_in_schema:
            continue
        path = getattr(context, "path_format", None) or getattr(original, "path_format", context.path)
        accesses = route_accesses(context.dependant)
        needs_account = any(access.roles is not None for access in accesses)
        has_path_params = "{" in path
        takes_input = bool(context.dependant.query_params or context.dependant.body_params or has_path_params
                           or original.body_field is not None)
        for method in context.methods:
            operation = schema.get("paths", {}).get(path, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            wanted = []
            if needs_account:
                wanted += [401, 403]
                operation["security"] = [{BEARER: []}, {COOKIE: []}]
            if has_path_params:
                wanted.append(404)
            if method.lower() in _CHANGING:
                wanted.append(409)
            if takes_input or method.lower() in _CHANGING:
                wanted.append(422)
            for status in wanted:
                _error_response(responses, status, _COMMON[status])
            for status, response in list(responses.items()):  # routes' own error responses (e.g. 429) get the shape too
                if str(status)[:1] in "45" and isinstance(response, dict):
                    _error_response(responses, status, response.get("description") or "An error.")
    # FastAPI's validation error schemas are no longer referred to: the app never answers in them.
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and unused not in str(schema.get("paths", {})):
            del schemas[unused]
    return schema


def _error_response(responses: dict, status: int | str, description: str) -> None:
    key = str(status)
    response = responses.get(key) or responses.get(status) or {}
    responses.pop(status, None)
    content = response.get("content", {})
    json = content.get("application/json", {})
    if json.get("schema", {}).get("$ref") in (None, "#/components/schemas/HTTPValidationError"):
        content["application/json"] = {**json, "schema": _ERROR_REF}
    responses[key] = {**response, "description": response.get("description") or description, "content": content}
