"""Writes of identity data: resident accounts, card and passkey sign-in, signature evidence.

Every sign-in, link and recorded signature goes to the audit log. Refusals are audited too,
outside the transaction of the refused change, so the record survives the rollback.

Split by subject; every name stays importable from ``machi.identity.services``.
"""

from __future__ import annotations

from machi.identity.services.cards import (
    CHALLENGE_RETENTION,
    card_link,
    card_login_challenge_issue,
    card_login_verify,
    card_unlink,
    decode_signature,
)
from machi.identity.services.evidence import signature_evidence_record, signature_record
from machi.identity.services.handoff import (
    HANDOFF_TTL,
    HandoffExpired,
    handoff_answer,
    handoff_create,
    handoff_data_hash,
    handoff_open,
    handoff_take,
)
from machi.identity.services.passkeys import (
    PASSKEY_PROMPT_MS,
    PasskeyOptions,
    passkey_authenticate,
    passkey_authentication_options,
    passkey_delete,
    passkey_register,
    passkey_registration_options,
)
from machi.identity.services.residents import (
    EMAIL_VERIFICATION_SALT,
    email_verification_token,
    resident_email_verify,
    resident_existing_account_notice_send,
    resident_sign_in_record,
    resident_sign_out_record,
    resident_sign_up,
    resident_verification_email_send,
)

__all__ = [
    "CHALLENGE_RETENTION",
    "EMAIL_VERIFICATION_SALT",
    "HANDOFF_TTL",
    "PASSKEY_PROMPT_MS",
    "HandoffExpired",
    "PasskeyOptions",
    "card_link",
    "card_login_challenge_issue",
    "card_login_verify",
    "card_unlink",
    "decode_signature",
    "email_verification_token",
    "handoff_answer",
    "handoff_create",
    "handoff_data_hash",
    "handoff_open",
    "handoff_take",
    "passkey_authenticate",
    "passkey_authentication_options",
    "passkey_delete",
    "passkey_register",
    "passkey_registration_options",
    "resident_email_verify",
    "resident_existing_account_notice_send",
    "resident_sign_in_record",
    "resident_sign_out_record",
    "resident_sign_up",
    "resident_verification_email_send",
    "signature_evidence_record",
    "signature_record",
]
