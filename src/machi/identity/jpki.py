"""JPKI (公的個人認証) definitions shared by the verifier and the test card authority.

Object identifiers, the subjectAltName "基本4情報" encoding and the birth-date era code follow
``shared/reference/identity-signatures-japanese-data.md`` §1. Nothing here touches settings or
the database, so both the production verifier and the simulator can import it freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from asn1crypto.core import UTF8String
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

# --- Certificate policies (critical extension on every JPKI end-entity certificate) -----------
#: 署名用電子証明書 on the card, and the same certificate from J-LIS's test environment.
SIGN_POLICY_CARD: Final = ObjectIdentifier("1.2.392.200149.8.5.1.1.20")
SIGN_POLICY_TEST: Final = ObjectIdentifier("1.2.392.200149.8.5.1.0.20")
#: 利用者証明用電子証明書 (⚠ secondary source). The test value mirrors the signing pattern
#: (``…1.0.x`` for the test environment) and is only ever used by Machi's own simulator.
AUTH_POLICY_CARD: Final = ObjectIdentifier("1.2.392.200149.8.5.1.3.30")
AUTH_POLICY_TEST: Final = ObjectIdentifier("1.2.392.200149.8.5.1.2.30")

SIGN_POLICIES: Final = frozenset({SIGN_POLICY_CARD, SIGN_POLICY_TEST})
AUTH_POLICIES: Final = frozenset({AUTH_POLICY_CARD, AUTH_POLICY_TEST})

CPS_URI: Final = "http://www.jpki.go.jp/cps.html"

# --- subjectAltName otherName arcs (each value is a [0] EXPLICIT UTF8String) ------------------
OID_NAME: Final = ObjectIdentifier("1.2.392.200149.8.5.5.1")  # 氏名
OID_NAME_ALT_POSITIONS: Final = ObjectIdentifier("1.2.392.200149.8.5.5.2")  # 氏名代替文字位置
OID_SEX: Final = ObjectIdentifier("1.2.392.200149.8.5.5.3")  # 性別
OID_BIRTH_DATE: Final = ObjectIdentifier("1.2.392.200149.8.5.5.4")  # 生年月日 EYYYYMMDD
OID_ADDRESS: Final = ObjectIdentifier("1.2.392.200149.8.5.5.5")  # 住所
OID_ADDRESS_ALT_POSITIONS: Final = ObjectIdentifier("1.2.392.200149.8.5.5.6")  # 住所代替文字位置

#: 性別 codes in the certificate.
SEX_CODES: Final = {"1": "男", "2": "女", "3": "不明"}

# --- Files of the test card authority (also the default trust anchors / CRLs in development) ---
SIGN_CA_CERT_FILE: Final = "sign-ca.pem"
SIGN_CA_KEY_FILE: Final = "sign-ca.key"
SIGN_CA_CRL_FILE: Final = "sign-ca.crl"
AUTH_CA_CERT_FILE: Final = "auth-ca.pem"
AUTH_CA_KEY_FILE: Final = "auth-ca.key"
AUTH_CA_CRL_FILE: Final = "auth-ca.crl"


# --- 和暦 era codes of the birth date -----------------------------------------------------------
#: (era code, first day). 明治 starts at its retroactive date; earlier dates have no code.
ERAS: Final = (
    ("5", date(2019, 5, 1)),  # 令和
    ("4", date(1989, 1, 8)),  # 平成
    ("3", date(1926, 12, 25)),  # 昭和
    ("2", date(1912, 7, 30)),  # 大正
    ("1", date(1868, 1, 25)),  # 明治
)
ERA_NAMES: Final = {"1": "明治", "2": "大正", "3": "昭和", "4": "平成", "5": "令和", "0": "不明"}


def era_code(day: date) -> str:
    """The JPKI era digit of a Gregorian date (``1`` 明治 … ``5`` 令和)."""
    for code, start in ERAS:
        if day >= start:
            return code
    raise ValueError(f"{day.isoformat()} is before the 明治 era")


def encode_birth_date(day: date) -> str:
    """``EYYYYMMDD``: era digit followed by the Gregorian date (1990-01-02 → ``419900102``)."""
    return f"{era_code(day)}{day:%Y%m%d}"


def decode_birth_date(value: str) -> date | None:
    """The Gregorian date of an ``EYYYYMMDD`` value; ``None`` for era ``0`` (不明).

    Raises ``ValueError`` when the value is not nine digits, the date does not exist, or the
    era digit does not match the date: a certificate carrying that is not well-formed.
    """
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        raise ValueError("birth date must be nine digits EYYYYMMDD")
    era, rest = value[0], value[1:]
    if era == "0":
        return None
    day = date(int(rest[:4]), int(rest[4:6]), int(rest[6:]))
    if era_code(day) != era:
        raise ValueError(f"era {era} does not match {day.isoformat()}")
    return day


# --- DER helpers ---------------------------------------------------------------------------------
def utf8_der(text: str) -> bytes:
    """DER of a UTF8String (the ``value`` of an otherName; cryptography adds the [0] wrapper)."""
    return bytes(UTF8String(text).dump())


def utf8_from_der(der: bytes) -> str:
    """Text of a DER UTF8String; ``ValueError`` when it is something else."""
    parsed = UTF8String.load(der)
    text = parsed.native
    if not isinstance(text, str):
        raise ValueError("otherName value is not a UTF8String")
    return text


@dataclass(frozen=True)
class BasicFourItems:
    """基本4情報 from a signing certificate, verbatim (compare only normalised copies)."""

    name: str
    sex: str
    birth_date: date | None
    birth_date_raw: str
    address: str
    name_alt_positions: str = ""
    address_alt_positions: str = ""

    @property
    def sex_label(self) -> str:
        return SEX_CODES.get(self.sex, "")


def basic_four_items_to_san(
    *, name: str, sex: str, birth_date: date, address: str
) -> x509.SubjectAlternativeName:
    """The subjectAltName of a signing certificate carrying the 基本4情報."""
    return x509.SubjectAlternativeName(
        [
            x509.OtherName(OID_NAME, utf8_der(name)),
            x509.OtherName(OID_SEX, utf8_der(sex)),
            x509.OtherName(OID_BIRTH_DATE, utf8_der(encode_birth_date(birth_date))),
            x509.OtherName(OID_ADDRESS, utf8_der(address)),
        ]
    )


def basic_four_items_from_certificate(certificate: x509.Certificate) -> BasicFourItems | None:
    """The 基本4情報 in ``certificate``'s subjectAltName, or ``None`` when it carries none.

    Raises ``ValueError`` when the otherNames are present but not well-formed.
    """
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    values: dict[str, str] = {}
    for other in san.get_values_for_type(x509.OtherName):
        values[other.type_id.dotted_string] = utf8_from_der(other.value)
    if OID_NAME.dotted_string not in values:
        return None
    missing = [
        oid.dotted_string
        for oid in (OID_SEX, OID_BIRTH_DATE, OID_ADDRESS)
        if oid.dotted_string not in values
    ]
    if missing:
        raise ValueError(f"subjectAltName lacks {', '.join(missing)}")
    raw_birth = values[OID_BIRTH_DATE.dotted_string]
    return BasicFourItems(
        name=values[OID_NAME.dotted_string],
        sex=values[OID_SEX.dotted_string],
        birth_date=decode_birth_date(raw_birth),
        birth_date_raw=raw_birth,
        address=values[OID_ADDRESS.dotted_string],
        name_alt_positions=values.get(OID_NAME_ALT_POSITIONS.dotted_string, ""),
        address_alt_positions=values.get(OID_ADDRESS_ALT_POSITIONS.dotted_string, ""),
    )
