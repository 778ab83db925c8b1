"""OAuth 1.0a as Trade Me checks it: the configured app (consumer key/secret) acting for the
configured member (token/secret), signed with PLAINTEXT or HMAC-SHA1 in the Authorization header.

HMAC-SHA1 signatures are recomputed from the request (RFC 5849 §3.4: method, base string URI, query
and form parameters, oauth_* header parameters) with oauthlib's primitives, and their nonces may
not be replayed. PLAINTEXT needs no nonce or timestamp (Trade Me's own example header has none).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from oauthlib.oauth1.rfc5849 import signature, utils

from .exceptions import unauthorized
from .models import TradeMeBackend

REQUIRED = ("oauth_consumer_key", "oauth_token", "oauth_signature_method", "oauth_signature")
FORM = "application/x-www-form-urlencoded"


def verify(
    backend: TradeMeBackend, method: str, url: str, headers: dict[str, str], body: bytes
) -> tuple[str, str]:
    """The (consumer key, token) the request is signed for; raises a 401 otherwise."""
    header = headers.get("authorization", "")
    if header[:6].lower() != "oauth ":
        raise unauthorized("Missing OAuth Authorization header.")
    try:
        pairs = utils.parse_authorization_header(header)
    except ValueError as error:
        raise unauthorized(f"Malformed OAuth Authorization header: {error}") from error
    params = {name: utils.unescape(value) for name, value in pairs}
    if missing := [name for name in REQUIRED if not params.get(name)]:
        raise unauthorized(f"Missing OAuth parameter {missing[0]}.")
    if params.get("oauth_version", "1.0") != "1.0":
        raise unauthorized("Unsupported OAuth version.")

    config = backend.config
    consumer_key, token = params["oauth_consumer_key"], params["oauth_token"]
    if not signature.safe_string_equals(consumer_key, config.consumer_key):
        raise unauthorized("Invalid consumer key.")
    if not signature.safe_string_equals(token, config.oauth_token):
        raise unauthorized("Invalid or expired access token.")

    method_name = params["oauth_signature_method"]
    if method_name == "PLAINTEXT":
        expected = signature.sign_plaintext(config.consumer_secret, config.oauth_token_secret)
    elif method_name == "HMAC-SHA1":
        _check_freshness(backend, params)
        form_body = (
            body.decode("utf-8", "replace") if headers.get("content-type", "").startswith(FORM) else None
        )
        collected = signature.collect_parameters(
            uri_query=urlsplit(url).query, body=form_body, headers={"Authorization": header}
        )
        base = signature.signature_base_string(
            method.upper(), signature.base_string_uri(url), signature.normalize_parameters(collected)
        )
        expected = signature.sign_hmac_sha1(base, config.consumer_secret, config.oauth_token_secret)
    else:
        raise unauthorized(f"Unsupported signature method {method_name}: use PLAINTEXT or HMAC-SHA1.")
    if not signature.safe_string_equals(params["oauth_signature"], expected):
        raise unauthorized("Invalid signature.")
    return consumer_key, token


def _check_freshness(backend: TradeMeBackend, params: dict[str, str]) -> None:
    # Timestamps are real Unix time (the client cannot know the simulated clock).
    nonce, timestamp = params.get("oauth_nonce"), params.get("oauth_timestamp", "")
    if not nonce or not timestamp.isdigit():
        raise unauthorized("HMAC-SHA1 requests need oauth_nonce and oauth_timestamp.")
    now = time.time()
    if abs(now - int(timestamp)) > backend.config.oauth_timestamp_tolerance_seconds:
        raise unauthorized("The oauth_timestamp is too far from the current time.")
    if not backend.first_use_of_nonce(params["oauth_consumer_key"], nonce, timestamp, now):
        raise unauthorized("The oauth_nonce has already been used.")
