"""Talking to Sentry: its vocabulary, the wire, and what its answers mean.

``spec`` holds what Sentry's symbol-sources API accepts (shared with the loader and the
emulator); ``connection`` makes one attempt over the wire; ``pacing`` keeps requests inside
Sentry's rate limits; ``transport`` adds retries, deadlines and the breaker; ``client`` speaks
the API's paths and shapes and settles uncertain writes; ``errors`` words a failed request and
says whether it is about one project or the whole account. It may import only ``core``.
This file hands on nothing: importing a package must not load its modules.
"""
