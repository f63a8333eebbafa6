"""Passwords and tokens never reach logs, tags or params: what :func:`redact` hides."""

from __future__ import annotations

import pytest

from pitot_tf.redaction import has_secret, redact


@pytest.mark.parametrize(("given", "shown"), [
    ("postgresql://pitot:secret@host:5432/db", "postgresql://pitot:***@host:5432/db"),
    ("postgresql+psycopg2://u:p%40ss/w:rd@h/db", "postgresql+psycopg2://u:***@h/db"),
    ("mysql://root:pw@127.0.0.1/mlflow?charset=utf8", "mysql://root:***@127.0.0.1/mlflow"
                                                       "?charset=utf8"),
    ("postgresql://u@h/db?password=pw&sslmode=require",
     "postgresql://u@h/db?password=***&sslmode=require"),
    ("postgresql://u@h/db?sslmode=require&password=pw", "postgresql://u@h/db?sslmode=require"
                                                        "&password=***"),
    ("postgresql://u@h/db?sslpassword=pw", "postgresql://u@h/db?sslpassword=***"),
    ("https://mlflow.example/?token=abc123#x", "https://mlflow.example/?token=***#x"),
    ("https://h/p?access_token=a&api_key=b&apikey=c&X-Amz-Security-Token=d&client_secret=e",
     "https://h/p?access_token=***&api_key=***&apikey=***&X-Amz-Security-Token=***"
     "&client_secret=***"),
    ("https://user:tok@mlflow.example:8443/", "https://user:***@mlflow.example:8443/"),
    ("host=h dbname=d user=u password=pw", "host=h dbname=d user=u password=***"),
    ("error: storage 'postgresql://a:b@h/db' failed; see http://x:y@h2/",
     "error: storage 'postgresql://a:***@h/db' failed; see http://x:***@h2/"),
    ("PASSWORD=Pw", "PASSWORD=***"),
])
def test_secrets_are_hidden(given: str, shown: str) -> None:
    assert redact(given) == shown
    assert has_secret(given)
    assert redact(shown) == shown  # redacting twice changes nothing more


@pytest.mark.parametrize("text", [
    "postgresql://pitot@host/db", "studies/pitot.journal", "not a url://", "sqlite:///mlflow.db",
    "http://127.0.0.1:5000/#/experiments/3/runs/ab?workflowType=machine_learning",
    "training.token_dropout=0.1 model.key_dim=8 training.steps=60", "/home/u/pass:word/x",
    "file:///tmp/mlruns", "",
])
def test_text_without_a_secret_is_unchanged(text: str) -> None:
    assert redact(text) == text
    assert not has_secret(text)
