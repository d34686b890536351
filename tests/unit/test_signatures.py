"""Webhook authenticity: raw bytes, exact secrets, time windows."""

import base64

import pytest

from crmbridge.errors import SignatureError
from crmbridge.webhooks.signatures import (
    basic_auth_header,
    hubspot_v3_signature,
    verify_basic_auth,
    verify_hubspot_v3,
    verify_xero_signature,
    xero_signature,
)

KEY = "local-xero-webhook-key"
BODY = b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"x"}'


def test_xero_signature_of_the_raw_body_verifies():
    verify_xero_signature(BODY, xero_signature(BODY, KEY), KEY)


@pytest.mark.parametrize(
    "body, signature",
    [
        (BODY + b" ", xero_signature(BODY, KEY)),  # one byte more than was signed
        (BODY, xero_signature(BODY, KEY + "x")),  # another key
        (BODY, None),
        (BODY, ""),
        (BODY, "not base64 at all ✓"),
    ],
)
def test_xero_signature_mismatch_is_refused(body, signature):
    with pytest.raises(SignatureError):
        verify_xero_signature(body, signature, KEY)


def test_xero_key_is_used_as_text_not_base64_decoded():
    # A key that happens to be valid base64 must still be used as its UTF-8 text.
    key = "c2VjcmV0"
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(key.encode(), BODY, hashlib.sha256).digest()).decode()
    assert xero_signature(BODY, key) == expected


def test_basic_auth_with_the_right_credentials_verifies():
    verify_basic_auth(basic_auth_header("bridge", "pw:with:colons"), "bridge", "pw:with:colons")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        basic_auth_header("bridge", "wrong"),
        basic_auth_header("other", "local-webhook-password"),
        "Bearer abc",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
    ],
)
def test_basic_auth_refuses_anything_else(header):
    with pytest.raises(SignatureError):
        verify_basic_auth(header, "bridge", "local-webhook-password")


HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
HUBSPOT_BODY = b"{'example_field':'example_value'}"


def test_hubspot_v3_matches_the_published_test_vector():
    signature = hubspot_v3_signature(
        "POST", "https://www.example.com/webhook_uri", HUBSPOT_BODY, "1693657560000", HUBSPOT_SECRET
    )
    assert signature == "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y="


def test_hubspot_v3_decodes_only_the_documented_escapes():
    decoded = hubspot_v3_signature("POST", "https://x.test/a:b?c=@d", b"", "1", HUBSPOT_SECRET)
    encoded = hubspot_v3_signature("POST", "https://x.test/a%3Ab?c=%40d", b"", "1", HUBSPOT_SECRET)
    space = hubspot_v3_signature("POST", "https://x.test/a%20b", b"", "1", HUBSPOT_SECRET)
    assert decoded == encoded
    assert space != hubspot_v3_signature("POST", "https://x.test/a b", b"", "1", HUBSPOT_SECRET)


@pytest.mark.parametrize("skew_ms, ok", [(0, True), (299_000, True), (301_000, False), (-301_000, False)])
def test_hubspot_v3_timestamp_window_is_five_minutes_both_ways(skew_ms, ok):
    sent = 1_693_657_560_000
    signature = hubspot_v3_signature("POST", "https://www.example.com/webhook_uri", HUBSPOT_BODY, str(sent), HUBSPOT_SECRET)
    kwargs = dict(method="POST", uri="https://www.example.com/webhook_uri", raw_body=HUBSPOT_BODY,
                  timestamp_ms=str(sent), signature=signature, client_secret=HUBSPOT_SECRET,
                  now_ms=lambda: sent + skew_ms)
    if ok:
        verify_hubspot_v3(**kwargs)
    else:
        with pytest.raises(SignatureError):
            verify_hubspot_v3(**kwargs)
