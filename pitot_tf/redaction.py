"""Secrets hidden from everything the project shows or records: :func:`redact`.

A database password or an access token travels in storage and tracking URLs
(``postgresql://user:pw@host/db``, ``...?sslpassword=pw``, ``https://host/?token=t``), and those
URLs turn up in params, tags, error lines, printed hints, files and child processes' command
lines. Every one of those goes through :func:`redact`, the one place that knows what a secret
looks like: the password of a URL's ``user:password@`` and the value of any ``name=value``
whose name ends in a secret word (``password``, ``sslpassword``, ``passwd``, ``pwd``,
``secret``, ``token``, ``access_token``, ``api_key``, ``apikey``, ``credential``,
``signature``, ``sig``), in a query string or a libpq-style ``key=value`` connection string.
It works on any text, not only on a bare URL, so that an error message quoting a URL is
redacted too. It is a bottom-layer module (standard library only): everything may import it.
"""

from __future__ import annotations

import re

MASK = "***"

#: ``scheme://user:password@``: the password runs to the first ``@`` (as SQLAlchemy reads a
#: URL), so an unescaped ``/`` or ``:`` in it is hidden too.
_USERINFO = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#'\"]*:)(?P<secret>[^\s@'\"]+)(?=@)")
#: ``name=value`` where the name (a query or connection-string key) ends in a secret word.
_SECRET_WORDS = (r"password|passwd|pwd|secret|token|api[-_]?key|apikey|access[-_]?key|"
                 r"private[-_]?key|credentials?|signature|sig|auth")
_KEY_VALUE = re.compile(
    rf"(?P<head>(?<![\w.\-])[\w\-]*(?:{_SECRET_WORDS})=)(?P<secret>[^&#;\s'\"]+)",
    re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every password and token in it replaced by ``***``: a URL's
    ``user:password@`` becomes ``user:***@``, ``?password=pw`` (or ``&token=t``,
    ``sslpassword=pw`` in a connection string) becomes ``?password=***``. Text without a
    secret, such as a file path, comes back unchanged."""
    text = _USERINFO.sub(lambda m: m.group("head") + MASK, text)
    return _KEY_VALUE.sub(lambda m: m.group("head") + MASK, text)


def has_secret(text: str) -> bool:
    """Whether ``text`` holds something :func:`redact` would hide."""
    return redact(text) != text
