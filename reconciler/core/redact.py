"""Masking of tokens and secret values in any text symsync may show or log.

Sentry never returns a secret in clear, but an error body can still carry sensitive text: Gen A's
validation message is the Python repr of the project's whole source list, a proxy may echo a
request, and a token may appear in a URL or a header someone pasted. Everything the client puts
in an exception or a log line goes through :func:`redact_text` (or :func:`redact_data` for parsed
JSON) first.

Besides those patterns, every secret VALUE the process knows is masked wherever it appears: the
auth token, each variable read for a secret, every value of ``SYMSYNC_SECRETS``. They are put in
a process-wide registry (:func:`register_secret`) at the point they are read, and
:func:`redact_text` masks them by default. The CLI also wraps stdout and stderr in a
:class:`RedactingStream`, so nothing any command prints (click, rich, logging, a traceback) can
carry one, whichever field held it.

Values shorter than :data:`MIN_SECRET_LENGTH` are not masked by value: they occur inside ordinary
words and JSON literals (``true``, ``null``), masking them would garble every message, and a
value that short protects nothing anyway. Longer values are masked wherever they occur, even
inside another word.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from collections.abc import Iterable
from typing import IO, Any, Final
from urllib.parse import quote, quote_plus, unquote

MASK: Final = "***"
# The shortest value masked by value (see the module docstring).
MIN_SECRET_LENGTH: Final = 6

# Keys whose values are secrets wherever they appear (request bodies, error reprs, JSON): the
# secret fields of Sentry's symbol sources (every one that ``sentry.spec`` lists; a test holds
# the two together), and the usual names of tokens.
SECRET_KEYS: Final[frozenset[str]] = frozenset(
    {"password", "secret_key", "private_key"}
    | {"token", "auth_token", "authorization", "access_token", "refresh_token", "api_key"}
)
# Sentry's placeholder for a secret it holds (``sentry.spec.hidden_secret()``): no value in it.
_HIDDEN_SECRET: Final = {"hidden-secret": True}

_KEY_ALTERNATION = "|".join(sorted((re.escape(k) for k in SECRET_KEYS), key=len, reverse=True))

# `'password': '...'`, `"secret_key": "..."`, also JSON-escaped (`\"password\": \"...\"`) as
# found in an error string inside a JSON body, and `password=...` as in a query or a log line.
_QUOTED_PAIR: Final = re.compile(
    r"(?P<key>(?P<kq>\\\"|['\"])(?:" + _KEY_ALTERNATION + r")(?P=kq)\s*:\s*)"
    r"(?P<value>"
    r'\\"(?:[^"\\]|\\\\\\"|\\\\|\\[^"\\])*\\"'  # JSON-escaped: \"...\"
    # Python repr: '...' with \' escapes, also JSON-escaped (\\' is an escaped quote there;
    # taking it as one in a plain repr only masks more).
    r"|'(?:[^'\\]|\\\\'|\\.)*'"
    r"|\"(?:[^\"\\]|\\.)*\""  # JSON or repr: "..."
    r"|(?![{\[])[^,}\]\s]+"  # a bare number or word
    r")",
    re.IGNORECASE,
)
_ASSIGNED_PAIR: Final = re.compile(
    r"(?P<key>\b(?:" + _KEY_ALTERNATION + r")=)(?P<value>[^\s&,;'\"]+)",
    re.IGNORECASE,
)
# Credentials in a URL: https://user:password@host/
_URL_USERINFO: Final = re.compile(r"(?P<key>[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?P<value>[^/\s@]+)@")
# An Authorization header value, and the shapes of Sentry's tokens (user and org auth tokens).
_BEARER: Final = re.compile(r"(?P<key>\b(?:Bearer|Basic)\s+)(?P<value>[A-Za-z0-9._~+/=-]+)")
_SENTRY_TOKEN: Final = re.compile(r"\bsntr[a-z]{2}_[A-Za-z0-9_=+/-]{8,}")


def _mask_group(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = ""
    if value.startswith('\\"'):
        quote = '\\"'
    elif value[:1] in ("'", '"'):
        quote = value[:1]
    return f"{match.group('key')}{quote}{MASK}{quote}"


# --- the registry of known secret values ------------------------------------------------------

_registry_lock = threading.Lock()
# Every form a value can take in a message (as is, JSON-escaped, percent-encoded, repr-escaped)
# -> where it came from ("SENTRY_AUTH_TOKEN", "SYMSYNC_SECRETS entry `NAME`"), for error
# messages that must say which secret they found without showing it.
_known: dict[str, str] = {}
# The same forms, longest first, so that a value containing another one is masked whole.
_ordered: tuple[str, ...] = ()


def _forms(value: str) -> set[str]:
    """The ways ``value`` can appear in a message: as is, escaped in JSON (ASCII or not), in a
    Python repr, percent-encoded in a URL path or query; and each line of a multi-line value
    (a PEM key), which a server or a wrapped line may show alone."""
    forms = {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        quote(value, safe=""),
        quote(value, safe="/"),
        quote_plus(value, safe=""),
    }
    if "\n" in value:
        forms.update(line.strip() for line in value.splitlines())
    # URL parsers lowercase the host name: a token put there (`https://TOKEN.example/`) comes
    # back lowercased in a connection error.
    forms.update([f.lower() for f in forms])
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def register_secret(value: str, origin: str) -> None:
    """Mask ``value`` in everything symsync shows from now on; ``origin`` names it (never the
    value) in a message that must say a secret was found."""
    global _ordered
    forms = _forms(value)
    if not forms:
        return
    with _registry_lock:
        new = {f for f in forms if f not in _known}
        if not new:
            return
        for form in new:
            _known[form] = origin
        _ordered = tuple(sorted(_known, key=len, reverse=True))


def forget_secrets() -> None:
    """Empty the registry (for tests: one process runs many)."""
    global _ordered
    with _registry_lock:
        _known.clear()
        _ordered = ()


def known_secrets() -> tuple[str, ...]:
    """Every registered form of every known value, longest first."""
    return _ordered


# A run of characters that may hold percent-encoding (a URL, a path, a query), up to a space,
# a quote or a bracket of the text around it. No backtracking: one pass over the text.
_RUN: Final = re.compile(r"[^\s\"'<>()\[\]{}`|\\^]+")


def _replace_known(text: str) -> str:
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _encoded_hits(text: str) -> list[tuple[re.Match[str], str]]:
    """The percent-encoded runs of ``text`` that hold a known value once decoded, each with its
    decoded text: a value may be encoded in any mix of ways (`%54oken`), not only in the ones
    :func:`_forms` lists."""
    if "%" not in text or not _ordered:
        return []
    hits = []
    for match in _RUN.finditer(text):
        run = match.group()
        if "%" in run:
            decoded = unquote(run)
            if decoded != run and _replace_known(decoded) != decoded:
                hits.append((match, decoded))
    return hits


def redact_known(text: str) -> str:
    """``text`` with every known secret value masked, and nothing else changed (the pattern
    rules of :func:`redact_text` would alter data such as a JSON plan); a percent-encoded run
    that holds one is shown decoded, with the value masked."""
    text = _replace_known(text)
    hits = _encoded_hits(text)
    if hits:
        parts: list[str] = []
        end = 0
        for match, decoded in hits:
            parts.append(text[end : match.start()])
            parts.append(_replace_known(decoded))
            end = match.end()
        parts.append(text[end:])
        text = "".join(parts)
    return text


def find_known(text: str) -> list[str]:
    """Where each known value found in ``text`` came from (its origin, never the value)."""
    found = [_known.get(secret, "a secret") for secret in _ordered if secret in text]
    for _, decoded in _encoded_hits(text):
        found.extend(_known.get(secret, "a secret") for secret in _ordered if secret in decoded)
    return sorted(set(found))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask every known secret value (the registry's and ``secrets``) and everything that looks
    like a credential in ``text``."""
    extra = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH and s not in _known}
    if extra:
        # Longest first, so that a secret containing another one is masked whole.
        for secret in sorted(extra | set(_ordered), key=len, reverse=True):
            text = text.replace(secret, MASK)
    else:
        text = redact_known(text)
    text = _QUOTED_PAIR.sub(_mask_group, text)
    text = _ASSIGNED_PAIR.sub(_mask_group, text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('key')}{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m.group('key')}{MASK}", text)
    return _SENTRY_TOKEN.sub(MASK, text)


def redact_data(data: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of parsed JSON with secret fields masked and every string passed through
    :func:`redact_text`. Sentry's own placeholder ``{"hidden-secret": true}`` is kept, since it
    carries no value."""
    known = tuple(secrets)
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(key, str) and key.lower() in SECRET_KEYS and value != _HIDDEN_SECRET:
                out[key] = MASK
            else:
                out[key] = redact_data(value, known)
        return out
    if isinstance(data, list):
        return [redact_data(item, known) for item in data]
    if isinstance(data, str):
        return redact_text(data, known)
    return data


def secret_values(data: Any) -> list[str]:
    """Every plaintext secret in a request body (values of secret fields, at any depth)."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and key.lower() in SECRET_KEYS and isinstance(value, str):
                found.append(value)
            else:
                found.extend(secret_values(value))
    elif isinstance(data, list):
        for item in data:
            found.extend(secret_values(item))
    return found


def truncate(text: str, limit: int = 500) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


# --- the catch-all for stdout and stderr --------------------------------------------------------


class RedactingStream(io.TextIOBase):
    """A text stream that masks every known secret value before it reaches ``stream``.

    A value split over two writes is still caught: the end of a write that could be the start
    of a known value is held back until the next write, or until ``flush()`` (click flushes after
    every message, so a message is never held back). It has no ``buffer``, so that nothing can
    write past it in bytes.
    """

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream
        self._pending = ""
        self._lock = threading.RLock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.stream, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.stream, "errors", None)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            data = redact_known(self._pending + text)
            keep = _partial_secret_at_end(data)
            self._pending = data[len(data) - keep :] if keep else ""
            out = data[: len(data) - keep]
            if out:
                self.stream.write(out)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self.stream.write(self._pending)
                self._pending = ""
            self.stream.flush()

    def close(self) -> None:
        # The wrapped stream belongs to whoever opened it; only what is held back goes out (if
        # it still can: at exit the stream may be closed, or a pipe's reader gone).
        with contextlib.suppress(ValueError, OSError):
            self.flush()


def _partial_secret_at_end(text: str) -> int:
    """Length of the longest end of ``text`` that is the start (not the whole) of a known value."""
    if not text:
        return 0
    last = text[-1]
    best = 0
    for secret in _ordered:
        if len(secret) - 1 <= best:
            break  # longest first: no later one can hold back more
        for k in range(min(len(secret) - 1, len(text)), best, -1):
            if secret[k - 1] == last and text.endswith(secret[:k]):
                best = k
                break
    return best
