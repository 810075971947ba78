"""The HTTP interface: FastAPI app, routes, request/response models, auth and errors.

Everything here only translates HTTP to calls of :mod:`api.services` and back:
:mod:`api.http.app` builds the app (``create_app``), :mod:`api.http.routes` holds one
router per resource, :mod:`api.http.schemas` their models, :mod:`api.http.deps` the
FastAPI dependencies, :mod:`api.http.security` API-key authentication and the page's
cookie, :mod:`api.http.errors` the one JSON error format, :mod:`api.http.server` the
uvicorn runner ``koc serve`` calls, and ``templates/`` the leaderboard page.
"""
