"""The bundled Sentry: a local server that behaves like Sentry's symbol-sources API.

- ``validation``: Sentry's server-side rules for a source list (Gen A and Gen B).
- ``sources``: the symbol-sources endpoint, per generation.
- ``state``: organizations, projects, stored sources, atomic saving.
- ``server``: HTTP, auth, rate limits, faults, latency, logging, control endpoints.
- ``testing``: starting it from Python tests.
"""
