"""Webhook authenticity: raw bytes, exact secrets, time windows."""

import base64
import time

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


# The official SDK (hubspot-api-client) as an independent oracle ------------------------------------------

NOW_MS = 1_795_514_400_000


def sdk_v3(uri: str, body: bytes, timestamp: str, secret: str = HUBSPOT_SECRET, method: str = "POST") -> str:
    from hubspot.utils.signature import Signature

    return Signature.get_signature(secret, body.decode("utf-8"), "v3", http_uri=uri, http_method=method,
                                   timestamp=timestamp)


def test_the_official_sdk_reproduces_the_published_v3_vector():
    # The oracle is checked against the vector too, so agreeing with it means something.
    assert sdk_v3("https://www.example.com/webhook_uri", HUBSPOT_BODY, "1693657560000") == (
        "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y=")


def test_the_published_v1_vector_holds_for_the_sdk_and_the_emulators_v1_header():
    from hubspot.utils.signature import Signature

    from local.emulators.hubspot.webhooks import v1_signature

    expected = "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"
    assert Signature.get_signature(HUBSPOT_SECRET, HUBSPOT_BODY.decode(), "v1") == expected
    assert v1_signature(HUBSPOT_SECRET, HUBSPOT_BODY) == expected


@pytest.mark.parametrize("method, uri, body", [
    ("POST", "https://abc123.execute-api.eu-west-2.amazonaws.com/webhooks/hubspot",
     b'[{"eventId":1,"objectId":21000000101,"propertyName":"dealstage","propertyValue":"closedwon"}]'),
    ("POST", "https://bridge.example.com/webhooks/hubspot?portal=46000123&x=a%20b", b"[]"),
    ("POST", "http://127.0.0.1:3000/webhooks/hubspot", "[{\"note\":\"caf\u00e9 \u2713\"}]".encode()),
    ("GET", "https://bridge.example.com/webhooks/hubspot", b""),
])
def test_our_v3_signature_is_the_sdks_and_each_verifies_the_other(method, uri, body):
    from hubspot.utils.signature import Signature

    ours = hubspot_v3_signature(method, uri, body, str(NOW_MS), HUBSPOT_SECRET)

    assert ours == sdk_v3(uri, body, str(NOW_MS), method=method)
    verify_hubspot_v3(method=method, uri=uri, raw_body=body, timestamp_ms=str(NOW_MS),
                      signature=sdk_v3(uri, body, str(NOW_MS), method=method), client_secret=HUBSPOT_SECRET,
                      now_ms=lambda: NOW_MS)
    fresh = str(time.time_ns() // 1_000_000)  # the SDK checks the timestamp against its own clock
    assert Signature.is_valid(signature=hubspot_v3_signature(method, uri, body, fresh, HUBSPOT_SECRET),
                              client_secret=HUBSPOT_SECRET, request_body=body.decode(), http_uri=uri,
                              http_method=method, signature_version="v3", timestamp=fresh)


def test_a_uri_with_the_documented_escapes_verifies_as_the_sdk_signs_it_decoded():
    # HubSpot signs the URI with these escapes decoded; the SDK does not decode, so it is given the decoded
    # form, which is what HubSpot's own signer used.
    escaped = "https://bridge.example.com/webhooks/hubspot?next=%2Fdeals%3Fa=1&who=%40me%21%24%27%28%29%2A%2C%3B"
    decoded = "https://bridge.example.com/webhooks/hubspot?next=/deals?a=1&who=@me!$'()*,;"

    verify_hubspot_v3(method="POST", uri=escaped, raw_body=b"[]", timestamp_ms=str(NOW_MS),
                      signature=sdk_v3(decoded, b"[]", str(NOW_MS)), client_secret=HUBSPOT_SECRET,
                      now_ms=lambda: NOW_MS)


def test_an_escape_hubspot_does_not_decode_stays_encoded():
    uri = "https://bridge.example.com/webhooks/hubspot?q=a%20b%26c"

    with pytest.raises(SignatureError):
        verify_hubspot_v3(method="POST", uri=uri, raw_body=b"[]", timestamp_ms=str(NOW_MS),
                          signature=sdk_v3("https://bridge.example.com/webhooks/hubspot?q=a b&c", b"[]", str(NOW_MS)),
                          client_secret=HUBSPOT_SECRET, now_ms=lambda: NOW_MS)


@pytest.mark.parametrize("change", ["secret", "method", "uri", "body", "timestamp"])
def test_any_signed_part_changed_fails_verification_where_the_sdk_would_too(change):
    parts = {"secret": HUBSPOT_SECRET, "method": "POST", "uri": "https://b.example.com/webhooks/hubspot",
             "body": b'[{"objectId":1}]', "timestamp": str(NOW_MS)}
    signature = sdk_v3(parts["uri"], parts["body"], parts["timestamp"], parts["secret"], parts["method"])
    parts[change] = {"secret": HUBSPOT_SECRET + "x", "method": "PUT", "uri": parts["uri"] + "/",
                     "body": b'[{"objectId":2}]', "timestamp": str(NOW_MS + 1)}[change]

    with pytest.raises(SignatureError):
        verify_hubspot_v3(method=parts["method"], uri=parts["uri"], raw_body=parts["body"],
                          timestamp_ms=parts["timestamp"], signature=signature, client_secret=parts["secret"],
                          now_ms=lambda: NOW_MS)


@pytest.mark.parametrize("timestamp, signature", [(None, "x"), (str(NOW_MS), None), ("soon", "x"), ("", "")])
def test_missing_or_malformed_hubspot_headers_are_refused(timestamp, signature):
    with pytest.raises(SignatureError):
        verify_hubspot_v3(method="POST", uri="https://b.example.com/", raw_body=b"[]", timestamp_ms=timestamp,
                          signature=signature, client_secret=HUBSPOT_SECRET, now_ms=lambda: NOW_MS)
