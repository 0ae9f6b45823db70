"""Carrying out a Plan: ``applier`` makes the writes, ``secrets`` resolves the values they need.

It may import ``plan``, ``config``, ``sentry`` and ``core``; never ``importer``, ``github`` or
``commands``. This file hands on nothing: importing a package must not load its modules.
"""
