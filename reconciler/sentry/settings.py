"""How symsync reaches Sentry and how hard it tries: one object, passed whole.

Every command that talks to Sentry takes the same knobs (``--url``, ``--timeout``,
``--retry-budget``, ``--parallelism``, ``--no-region-discovery``); the command line builds one
:class:`ConnectionSettings` from them and hands it on, so no layer passes the knobs one by
one. Standard library only: ``--help`` shows the defaults without importing the HTTP client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# The longest wait for one whole answer (connecting, headers and body), in seconds.
DEFAULT_TIMEOUT: Final = 30.0
# How long one request keeps retrying 5xx answers, lost connections and timeouts, in seconds.
DEFAULT_RETRY_BUDGET: Final = 20.0
# Projects read, or written, at the same time.
DEFAULT_PARALLELISM: Final = 8


@dataclass(frozen=True)
class ConnectionSettings:
    """Where Sentry is and how to talk to it.

    ``url`` is ``--url``; ``None`` means ``SENTRY_URL``, else sentry.io: the configured (control)
    URL. ``parallelism`` is how many projects are read or written at the same time (the client
    keeps a connection for each). ``region_discovery``: each organization's requests go to the
    region its details name (``--no-region-discovery`` turns it off).
    """

    url: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    retry_budget: float = DEFAULT_RETRY_BUDGET
    parallelism: int = DEFAULT_PARALLELISM
    region_discovery: bool = True
