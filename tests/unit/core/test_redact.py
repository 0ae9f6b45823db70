"""Masking: credential shapes, known secret values in every form, and the output streams."""

from __future__ import annotations

import io
import json
import logging
from urllib.parse import quote

from reconciler.core.errors import SymsyncError
from reconciler.core.redact import (
    MASK,
    MIN_SECRET_LENGTH,
    RedactingStream,
    find_known,
    redact_known,
    redact_text,
    register_secret,
)

VALUE = "SENTINEL/value+with=odd\"chars'é"


def test_a_known_value_is_masked_in_every_form_a_message_can_carry_it() -> None:
    register_secret(VALUE, "SOME_VARIABLE")
    carriers = [
        f"https://host/{VALUE}/path",
        f"https://host/{quote(VALUE, safe='')}?x=1",
        f"https://host/x?token={quote(VALUE, safe='')}",
        json.dumps({"detail": f"you sent {VALUE}"}),
        json.dumps({"detail": f"you sent {VALUE}"}, ensure_ascii=False),
        repr({"echo": VALUE}),
        f"<html><body>Authorization: Bearer {VALUE}</body></html>",
    ]
    for text in carriers:
        masked = redact_text(text)
        assert "SENTINEL" not in masked, (text, masked)
        assert MASK in masked
    assert find_known(f"x {VALUE} y") == ["SOME_VARIABLE"]
    assert find_known("nothing here") == []


def test_each_line_of_a_multi_line_value_is_masked_alone() -> None:
    pem = (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
        "SECONDLINEofthekey0123456789\n"
    )
    register_secret(pem, "GCS_KEY")
    assert "MIIEvQ" not in redact_known("the server said: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC!")
    assert "SECONDLINE" not in redact_known(json.dumps({"k": pem}))


def test_short_values_are_not_masked_and_longer_ones_are_even_inside_words() -> None:
    register_secret("x" * (MIN_SECRET_LENGTH - 1), "SHORT")
    register_secret("symbol", "WORD")
    assert redact_known("xxxxx true") == "xxxxx true"
    assert redact_known("symbol-sources") == f"{MASK}-sources"


def test_the_longest_value_is_masked_whole() -> None:
    register_secret("abcdef", "A")
    register_secret("abcdef-ghijkl", "B")
    assert redact_known("[abcdef-ghijkl]") == f"[{MASK}]"


def test_an_error_message_never_shows_a_known_value() -> None:
    register_secret("SENTINEL-in-error", "TOKEN")
    assert str(SymsyncError("cannot reach https://h/SENTINEL-in-error/")) == (
        f"cannot reach https://h/{MASK}/"
    )


def test_the_stream_masks_values_split_over_writes_and_passes_the_rest() -> None:
    register_secret("SENTINEL-split-value", "V")
    out = io.StringIO()
    stream = RedactingStream(out)
    for piece in ("before SENTINEL", "-split", "-value after\n", "plain ", "text\n"):
        stream.write(piece)
    stream.write("ends with SENT")  # could be the start of a value: held until flush
    assert out.getvalue() == f"before {MASK} after\nplain text\nends with "
    stream.flush()
    assert out.getvalue() == f"before {MASK} after\nplain text\nends with SENT"
    assert not hasattr(stream, "buffer")  # nothing can write past it in bytes


def test_the_stream_masks_what_logging_print_and_click_write() -> None:
    import click

    register_secret("SENTINEL-logged-value", "V")
    out = io.StringIO()
    stream = RedactingStream(out)
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test_redact")
    logger.addHandler(handler)
    try:
        logger.warning("GET /x/%s -> 500", "SENTINEL-logged-value")
    finally:
        logger.removeHandler(handler)
    print("a", "SENTINEL-logged", "-value", sep="", file=stream)
    click.echo("click: SENTINEL-logged-value", file=stream)
    stream.flush()
    assert "SENTINEL" not in out.getvalue()
    assert out.getvalue().count(MASK) == 3


def test_comments_issue_bodies_and_the_step_summary_carry_no_known_value(
    tmp_path, monkeypatch
) -> None:
    from reconciler.apply.secrets import register_environment
    from reconciler.github.actions import append_step_summary
    from reconciler.github.comment import comment_body
    from reconciler.github.drift import drift_issue_body

    register_environment({"GITHUB_TOKEN": "ghs_SENTINELgithubtoken0123", "SENTRY_AUTH_TOKEN": ""})
    register_secret("SENTINEL-in-markdown", "V")
    markdown = "### symsync plan\n\nSENTINEL-in-markdown and ghs_SENTINELgithubtoken0123\n"
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert append_step_summary(markdown)
    bodies = [
        comment_body(markdown, kind="plan", run_url=None),
        drift_issue_body(markdown, ["changes"], None),
        summary.read_text(encoding="utf-8"),
    ]
    for body in bodies:
        assert "SENTINEL" not in body
        assert body.count(MASK) == 2


def test_a_value_is_masked_however_it_is_percent_encoded_and_when_lowercased() -> None:
    token = "TokSentinel9Qx7ZzAbC"
    register_secret(token, "SENTRY_AUTH_TOKEN")
    carriers = [
        # encoded in part, as a user may write it in --url; quote() encodes none of it
        "cannot reach http://127.0.0.1:9/%54okSentinel9Qx7Zz%41bC/api/0/",
        "GET /x?t=%54%6f%6bSentinel9Qx7ZzAbC&y=1 -> 404",
        # a URL parser lowercases the host: https://TOKEN.example/
        "could not connect to toksentinel9qx7zzabc.invalid (the host name could not be resolved)",
    ]
    for text in carriers:
        for shown in (redact_known(text), redact_text(text)):
            assert "sentinel9qx7zz" not in shown.lower(), (text, shown)
            assert MASK in shown
        assert find_known(text) == ["SENTRY_AUTH_TOKEN"]
    # text without a known value, percent-encoded or not, is left as it was
    plain = "GET /a%20b/%zz?q=100% -> 200"
    assert redact_known(plain) == plain
    assert find_known(plain) == []


def test_every_secret_field_of_sentrys_vocabulary_is_masked_by_key():
    """The masking keeps its own list of secret keys (it sits below Sentry's vocabulary); every
    secret field that vocabulary knows must be on it, and Sentry's placeholder must pass."""
    from reconciler.core.redact import SECRET_KEYS, redact_data
    from reconciler.sentry import spec

    assert spec.ALL_SECRET_FIELDS <= SECRET_KEYS
    for field in sorted(spec.ALL_SECRET_FIELDS):
        assert redact_data({field: "sentinel-value-123"}) == {field: "***"}
        assert redact_data({field: spec.hidden_secret()}) == {field: spec.hidden_secret()}
