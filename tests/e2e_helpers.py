"""The end-to-end helpers under their former name: they live in tests/support/e2e_helpers.py.

test_docs_and_help.py still imports them from here; once it imports tests.support.e2e_helpers,
this module goes.
"""

from tests.support.e2e_helpers import *  # noqa: F403
