"""The interfaces and the application layer: the ``koc`` CLI, the HTTP API and their services.

* :mod:`api.cli`: the ``koc`` command line (entry point ``api.cli:main``); it only
  translates command-line options to service calls and results to text or JSON;
* :mod:`api.http`: the FastAPI app; it only translates HTTP to service calls;
* :mod:`api.services`: the application services both interfaces call (ranking runs,
  leaderboards, profiles, roles, keys, caches). They read and write the store and call
  :mod:`influence` and :mod:`referral`; they import neither interface.

Imports point down only: ``api.cli`` and ``api.http`` -> ``api.services`` ->
``influence`` | ``referral`` -> ``graph``. The one crossing between the interfaces is
``koc serve``, which starts the server through :func:`api.http.server.serve`.
See ``docs/architecture.md``.
"""
