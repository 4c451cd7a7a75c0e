"""PAY.JP API responses, shaped as PAY.JP documents them (https://pay.jp/docs/api/)."""

from __future__ import annotations

import copy
from typing import Any

CARD: dict[str, Any] = {
    "address_city": None,
    "address_line1": None,
    "address_line2": None,
    "address_state": None,
    "address_zip": None,
    "address_zip_check": "unchecked",
    "brand": "Visa",
    "country": None,
    "created": 1767225600,
    "customer": None,
    "cvc_check": "passed",
    "exp_month": 12,
    "exp_year": 2030,
    "fingerprint": "e1d8225886e3a7211127df751c86787f",
    "id": "car_6845da1a8651f889bc432362dfcb",
    "last4": "4242",
    "livemode": False,
    "metadata": {},
    "name": "PAY TARO",
    "object": "card",
    "three_d_secure_status": None,
}

CHARGE: dict[str, Any] = {
    "amount": 600,
    "amount_refunded": 0,
    "captured": True,
    "captured_at": 1767225600,
    "card": CARD,
    "created": 1767225600,
    "currency": "jpy",
    "customer": None,
    "description": "住民票の写しの交付請求",
    "expired_at": None,
    "failure_code": None,
    "failure_message": None,
    "fee_rate": "3.00",
    "id": "ch_fa990a4c10672a93053a774730b0a",
    "livemode": False,
    "metadata": {},
    "object": "charge",
    "paid": True,
    "platform_fee": None,
    "platform_fee_rate": None,
    "refund_reason": None,
    "refunded": False,
    "subscription": None,
    "tenant": None,
    "term_id": "tm_b92b879e60f62b532d6c2b2b8e24",
    "three_d_secure_status": None,
    "total_platform_fee": 0,
}

CARD_DECLINED: dict[str, Any] = {
    "error": {
        "charge": "ch_0a6ba8e21d6b8b5f7a2e0c4e7a1c3",
        "code": "card_declined",
        "message": "Card declined",
        "status": 402,
        "type": "card_error",
    }
}

INVALID_KEY: dict[str, Any] = {
    "error": {
        "message": "Invalid API Key: sk_test_***",
        "status": 401,
        "type": "auth_error",
    }
}


def charge(**changes: Any) -> dict[str, Any]:
    """A charge object with some fields changed."""
    value = copy.deepcopy(CHARGE)
    value.update(changes)
    return value


def event(
    data: dict[str, Any],
    *,
    event_id: str = "evnt_54db4d63c7886256acdbc784ccf",
    event_type: str = "charge.succeeded",
) -> dict[str, Any]:
    """A webhook event object wrapping ``data``."""
    return {
        "created": 1767225600,
        "data": data,
        "id": event_id,
        "livemode": False,
        "object": "event",
        "pending_webhooks": 1,
        "type": event_type,
    }


def charge_list(charges: list[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    return {
        "count": len(charges),
        "data": charges,
        "has_more": has_more,
        "object": "list",
        "url": "/v1/charges",
    }
