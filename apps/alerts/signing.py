"""Webhook signatures (pure stdlib): HMAC-SHA256 over "<timestamp>.<body>".

Headers: `X-Titanic-Timestamp` (Unix seconds) and `X-Titanic-Signature: sha256=<hex>`. Signing
the timestamp with the body lets a receiver refuse a replayed request by its age.
"""

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Titanic-Timestamp"
SIGNATURE_HEADER = "X-Titanic-Signature"
EVENT_HEADER = "X-Titanic-Event"
DELIVERY_HEADER = "X-Titanic-Delivery"
REPLAY_TOLERANCE_SECONDS = 300


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The header value for a body sent at `timestamp`."""
    message = str(int(timestamp)).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_verify(
    *,
    secret: str,
    timestamp: str,
    body: bytes,
    signature_header: str,
    now: float,
    tolerance: int = REPLAY_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance:
        return False
    expected = signature(secret=secret, timestamp=sent, body=body)
    return hmac.compare_digest(expected, signature_header)
