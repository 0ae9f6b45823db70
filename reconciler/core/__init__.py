"""What every stage shares, at the bottom of the import order.

The one exception root and the exit codes (``errors``), the masking of tokens and secret values
in anything shown (``redact``), atomic file writes (``atomic``) and the handling of SIGINT and
SIGTERM (``interrupt``). It imports nothing of symsync, so every other package may import it.
This file hands on nothing: importing a package must not load its modules.
"""
