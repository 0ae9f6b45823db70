"""The bundled Sentry: a local server that behaves like Sentry's symbol-sources API.

- ``validation``: Sentry's server-side rules for a source list (Gen A and Gen B).
- ``sources``: the symbol-sources endpoint, per generation.
- ``state``: organizations, projects, stored sources, the state file's text.
- ``persistence``: saving ``--state FILE``: each write journaled, the file rewritten when
  writes pause and on a clean stop; recovery after a kill.
- ``journal``: the SQLite journal beside the state file.
- ``server``: HTTP, auth, rate limits, faults, latency, logging, control endpoints.
- ``testing``: starting it from Python tests.

It stands on its own wing: it imports Sentry's vocabulary (``sentry.spec``) and ``core``, never
the client's stages, so the server and the client cannot agree on a mistake by sharing code.
This file hands on nothing: importing a package must not load its modules.
"""
