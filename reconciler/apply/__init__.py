"""Carrying out a Plan: ``applier`` makes the writes, ``secrets`` resolves the values they need.

``run`` is one apply from start to end: it gets the plan (saved, or fresh), checks it and
carries it out with the two.

It may import ``plan``, ``config``, ``sentry`` and ``core``; never ``importer``, ``github`` or
``commands``. This file hands on nothing: importing a package must not load its modules.
"""
