"""Passwords never reach logs, tags or params."""

from __future__ import annotations

from pitot_tf.redaction import redact


def test_a_password_is_hidden_and_paths_are_unchanged() -> None:
    assert redact("postgresql://pitot:secret@host:5432/db") == "postgresql://pitot:***@host:5432/db"
    assert redact("postgresql://pitot@host/db") == "postgresql://pitot@host/db"
    assert redact("studies/pitot.journal") == "studies/pitot.journal"
    assert redact("not a url://") == "not a url://"
