"""translate.retry: the one backoff policy every remote backend waits through."""

from __future__ import annotations

import email.utils
import logging
import time

import pytest

from translate.retry import JITTER, Backoff, parse_retry_after


def test_waits_double_within_the_jitter_band_up_to_the_cap():
    policy = Backoff(base=1.0, cap=8.0)
    for attempt, nominal in enumerate([1, 2, 4, 8, 8, 8]):
        wait = policy.wait(attempt)
        assert nominal * (1 - JITTER) <= wait <= nominal * (1 + JITTER)


def test_jitter_is_seeded_so_two_policies_agree_and_spreads_waits():
    a, b = Backoff(base=1.0, seed=3), Backoff(base=1.0, seed=3)
    waits_a = [a.wait(0) for _ in range(20)]
    assert waits_a == [b.wait(0) for _ in range(20)]
    assert len(set(waits_a)) > 10  # not one value repeated: the workers of a cluster do not retry in lockstep


@pytest.mark.parametrize("header, expected", [("7", 7.0), ("0.5", 0.5), ("", None), (None, None), ("soon", None)])
def test_retry_after_in_seconds(header, expected):
    assert parse_retry_after(header) == expected


def test_retry_after_as_an_http_date():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after(when) <= 31


def test_a_server_asking_for_longer_wins_but_is_capped():
    policy = Backoff(base=0.1, cap=1.0, max_retry_after=20.0)
    assert policy.wait(0, retry_after="12") == 12.0
    assert policy.wait(0, retry_after="3600") == 20.0
    assert policy.wait(0, retry_after="0") < 0.2  # a shorter ask does not shorten our own backoff below its floor


def test_every_wait_is_logged_with_backend_reason_and_seconds(caplog):
    policy = Backoff(base=0.01, cap=0.01)
    with caplog.at_level(logging.WARNING, logger="translate.retry"):
        waited = policy.sleep(2, "deepl", "429 Too Many Requests")
    (record,) = caplog.records
    assert "deepl" in record.getMessage() and "429 Too Many Requests" in record.getMessage()
    assert "retry 3" in record.getMessage() and f"{waited:.1f}s" in record.getMessage()
