"""A test certificate authority and My Number card simulator (JPKI-like, **not** J-LIS).

Part of :mod:`machi.testing_pki`: production code never imports it.

``python -m machi card …`` drives it. The authority keeps two self-signed CAs in a directory
(``MACHI_CARD_CA_DIR``): one for 署名用電子証明書 and one for 利用者証明用電子証明書, each with
its CRL. A "card" is a JSON file holding both certificates and their private keys, so residents
and tests can produce the same signatures a real card would (RSA PKCS#1 v1.5 over SHA-256).

Every DN carries ``OU=TEST ONLY - not J-LIS`` and the certificates use J-LIS's *test* policy
OID, so nothing made here can be mistaken for a real card. Production never trusts this CA: it
points ``MACHI_CARD_TRUST_ANCHORS`` at J-LIS's certificates instead.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

from machi.identity import jpki
from machi.testing_pki import builder

Purpose = Literal["sign", "auth"]
PURPOSES: Final[tuple[Purpose, Purpose]] = ("sign", "auth")

CARD_FILE_FORMAT: Final = "machi-test-card/1"
DEFAULT_CRL_BASE_URL: Final = "http://127.0.0.1:8000/card-ca"
JST: Final = ZoneInfo("Asia/Tokyo")
KEY_SIZE: Final = builder.KEY_SIZE
STATE_FILE: Final = "state.json"

_CA_OU: Final = {
    "sign": "JPKI for digital signature",
    "auth": "JPKI for user authentication",
}
_FILES: Final = {
    "sign": (jpki.SIGN_CA_CERT_FILE, jpki.SIGN_CA_KEY_FILE, jpki.SIGN_CA_CRL_FILE),
    "auth": (jpki.AUTH_CA_CERT_FILE, jpki.AUTH_CA_KEY_FILE, jpki.AUTH_CA_CRL_FILE),
}
_PREFECTURE = re.compile(r"^(北海道|東京都|京都府|大阪府|.{2,3}県)")
_CITY = re.compile(r"^(.+?[市区町村])")


class CardAuthorityError(Exception):
    """The test CA is missing or a card file is unusable (simulator only, not user-facing)."""


def rsa_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """What the card's chip does: RSA PKCS#1 v1.5 over DigestInfo(SHA-256) of ``data``."""
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


_write_private = builder.write_private


def _key_pem(key: rsa.RSAPrivateKey) -> str:
    return builder.key_pem(key).decode("ascii")


def _cert_pem(certificate: x509.Certificate) -> str:
    return builder.cert_pem(certificate).decode("ascii")


def _load_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(
        pem.encode("ascii") if isinstance(pem, str) else pem, password=None
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CardAuthorityError("not an RSA private key")
    return key


def fifth_birthday_after(issued: date, birth: date) -> date:
    """Expiry date of a JPKI certificate: the 5th birthday after issuance."""

    def birthday(year: int) -> date:
        try:
            return birth.replace(year=year)
        except ValueError:  # 29 February in a common year
            return date(year, 2, 28)

    first = birthday(issued.year)
    if first <= issued:
        first = birthday(issued.year + 1)
    return birthday(first.year + 4)


def _opaque_cn() -> str:
    """Like J-LIS's subject CN: request time, a sequence number and an office id."""
    return f"{datetime.now(tz=JST):%Y%m%d%H%M%S}{secrets.randbelow(10**6):06d}TEST"


def _localities(address: str) -> list[x509.NameAttribute]:
    """``L=<都道府県>, L=<市区町村>`` from the address, as far as they can be told apart."""
    attributes: list[x509.NameAttribute] = []
    prefecture = _PREFECTURE.match(address)
    if prefecture:
        attributes.append(x509.NameAttribute(NameOID.LOCALITY_NAME, prefecture.group(1)))
        city = _CITY.match(address[prefecture.end() :])
        if city:
            attributes.append(x509.NameAttribute(NameOID.LOCALITY_NAME, city.group(1)))
    return attributes


@dataclass
class CardFile:
    """A simulated card: both certificates with their private keys (PEM) and the 4 items."""

    name: str
    sex: str
    birth_date: date
    address: str
    sign_certificate_pem: str
    sign_key_pem: str
    auth_certificate_pem: str
    auth_key_pem: str
    issued_at: datetime = field(default_factory=lambda: datetime.now(tz=UTC))

    # --- parsed views ---------------------------------------------------------------------
    @property
    def sign_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.sign_certificate_pem.encode("ascii"))

    @property
    def auth_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.auth_certificate_pem.encode("ascii"))

    def certificate_pem(self, purpose: Purpose) -> str:
        return self.sign_certificate_pem if purpose == "sign" else self.auth_certificate_pem

    def certificate(self, purpose: Purpose) -> x509.Certificate:
        return self.sign_certificate if purpose == "sign" else self.auth_certificate

    # --- what the chip does -----------------------------------------------------------------
    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with the 署名用 key (as for an application form)."""
        return rsa_sign(_load_key(self.sign_key_pem), data)

    def sign_login(self, challenge: str) -> bytes:
        """Sign a login challenge (its UTF-8 bytes) with the 利用者証明用 key."""
        return rsa_sign(_load_key(self.auth_key_pem), challenge.encode("utf-8"))

    def sign_for(self, purpose: Purpose, data: bytes) -> bytes:
        """Sign ``data`` with the key of ``purpose`` (``sign`` 署名用, ``auth`` 利用者証明用)."""
        return rsa_sign(
            _load_key(self.sign_key_pem if purpose == "sign" else self.auth_key_pem), data
        )

    # --- file format ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CARD_FILE_FORMAT,
            "warning": "TEST ONLY - simulated card, not issued by J-LIS",
            "name": self.name,
            "sex": self.sex,
            "birth_date": self.birth_date.isoformat(),
            "address": self.address,
            "issued_at": self.issued_at.isoformat(),
            "sign": {"certificate": self.sign_certificate_pem, "private_key": self.sign_key_pem},
            "auth": {"certificate": self.auth_certificate_pem, "private_key": self.auth_key_pem},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CardFile:
        if data.get("format") != CARD_FILE_FORMAT:
            raise CardAuthorityError(f"not a card file ({CARD_FILE_FORMAT} expected)")
        try:
            return cls(
                name=data["name"],
                sex=data["sex"],
                birth_date=date.fromisoformat(data["birth_date"]),
                address=data["address"],
                sign_certificate_pem=data["sign"]["certificate"],
                sign_key_pem=data["sign"]["private_key"],
                auth_certificate_pem=data["auth"]["certificate"],
                auth_key_pem=data["auth"]["private_key"],
                issued_at=datetime.fromisoformat(data["issued_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CardAuthorityError(f"card file is incomplete: {exc}") from exc

    def save(self, path: Path) -> None:
        """Write the card file, readable by its owner only (it holds private keys)."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"
        _write_private(path, text.encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> CardFile:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CardAuthorityError(f"cannot read card file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise CardAuthorityError(f"{path} is not a card file")
        return cls.from_dict(data)


class CardAuthority:
    """The two test CAs in ``directory``: issue cards, revoke them and publish CRLs."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @classmethod
    def from_settings(cls) -> CardAuthority:
        """The authority in ``settings.MACHI_CARD_CA_DIR`` (read now, not at import)."""
        return cls(Path(settings.MACHI_CARD_CA_DIR))

    # --- paths and state ----------------------------------------------------------------------
    def cert_path(self, kind: Purpose) -> Path:
        return self.directory / _FILES[kind][0]

    def key_path(self, kind: Purpose) -> Path:
        return self.directory / _FILES[kind][1]

    def crl_path(self, kind: Purpose) -> Path:
        return self.directory / _FILES[kind][2]

    def exists(self) -> bool:
        return all(self.cert_path(k).exists() and self.key_path(k).exists() for k in PURPOSES)

    def _state(self) -> dict[str, Any]:
        path = self.directory / STATE_FILE
        if not path.exists():
            return {
                "crl_base_url": DEFAULT_CRL_BASE_URL,
                "crl_number": {"sign": 0, "auth": 0},
                "revoked": {"sign": [], "auth": []},
            }
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        path = self.directory / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)  # atomic: a crash never leaves half a revocation list

    def crl_url(self, kind: Purpose) -> str:
        """The CRL distribution point written into certificates (a loopback URL by default)."""
        return f"{self._state()['crl_base_url'].rstrip('/')}/{_FILES[kind][2]}"

    # --- CAs ----------------------------------------------------------------------------------
    def init(self, *, crl_base_url: str = DEFAULT_CRL_BASE_URL, valid_years: int = 10) -> bool:
        """Create both CAs and empty CRLs unless they exist. True when something was created."""
        if self.exists():
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        state = self._state()
        state["crl_base_url"] = crl_base_url
        self._save_state(state)
        for kind in PURPOSES:
            name = x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _CA_OU[kind]),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "TEST ONLY - not J-LIS"),
                ]
            )
            certificate, key = builder.self_signed_ca(name, years=valid_years)
            _write_private(self.key_path(kind), _key_pem(key).encode("ascii"))
            self.cert_path(kind).write_text(_cert_pem(certificate), encoding="ascii")
        self.write_crls()
        return True

    def ca(self, kind: Purpose) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        """The CA certificate and key for ``kind``."""
        if not self.exists():
            raise CardAuthorityError(
                f"no test CA in {self.directory}: run `python -m machi card init` first"
            )
        certificate = x509.load_pem_x509_certificate(self.cert_path(kind).read_bytes())
        return certificate, _load_key(self.key_path(kind).read_bytes())

    # --- cards --------------------------------------------------------------------------------
    def issue(
        self,
        *,
        name: str,
        sex: str,
        birth_date: date,
        address: str,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        valid_days: int | None = None,
    ) -> CardFile:
        """Issue a card: a 署名用 and a 利用者証明用 certificate with fresh RSA-2048 keys.

        Validity runs from ``not_before`` (now) to ``not_after``, or ``valid_days`` later, or
        (like a real card) the 5th birthday after issuance at 23:59:59 JST.
        """
        if sex not in jpki.SEX_CODES:
            raise CardAuthorityError("sex must be 1 (男), 2 (女) or 3 (不明)")
        # 氏と名は全角空白区切り on the card.
        name = re.sub(r"[ \u3000]+", "\u3000", name.strip())
        address = address.strip()
        if not name or not address:
            raise CardAuthorityError("name and address are required")
        jpki.encode_birth_date(birth_date)  # refuses dates before 明治
        start = (not_before or datetime.now(tz=UTC)).astimezone(UTC).replace(microsecond=0)
        if not_after is not None:
            end = not_after.astimezone(UTC)
        elif valid_days is not None:
            end = start + timedelta(days=valid_days)
        else:
            expiry = fifth_birthday_after(start.astimezone(JST).date(), birth_date)
            end = datetime.combine(expiry, time(23, 59, 59), tzinfo=JST).astimezone(UTC)
        if end <= start:
            raise CardAuthorityError("the certificate must end after it starts")

        sign_subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                *_localities(address),
                x509.NameAttribute(NameOID.COMMON_NAME, _opaque_cn()),
            ]
        )
        auth_subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.COMMON_NAME, _opaque_cn()),
            ]
        )
        sign_key = builder.new_key()
        auth_key = builder.new_key()
        sign_cert = self._leaf(
            "sign",
            subject=sign_subject,
            key=sign_key,
            start=start,
            end=end,
            san=jpki.basic_four_items_to_san(
                name=name, sex=sex, birth_date=birth_date, address=address
            ),
        )
        auth_cert = self._leaf("auth", subject=auth_subject, key=auth_key, start=start, end=end)
        return CardFile(
            name=name,
            sex=sex,
            birth_date=birth_date,
            address=address,
            sign_certificate_pem=_cert_pem(sign_cert),
            sign_key_pem=_key_pem(sign_key),
            auth_certificate_pem=_cert_pem(auth_cert),
            auth_key_pem=_key_pem(auth_key),
        )

    def _leaf(
        self,
        kind: Purpose,
        *,
        subject: x509.Name,
        key: rsa.RSAPrivateKey,
        start: datetime,
        end: datetime,
        san: x509.SubjectAlternativeName | None = None,
    ) -> x509.Certificate:
        """A JPKI-like end-entity certificate: test policy, CRL distribution point, J-LIS IAN."""
        ca_cert, ca_key = self.ca(kind)
        policy = jpki.SIGN_POLICY_TEST if kind == "sign" else jpki.AUTH_POLICY_TEST
        distribution_point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(self.crl_url(kind))],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        issuer_alt_name = x509.DirectoryName(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "公的個人認証サービス（試験用）"),
                ]
            )
        )
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (x509.CertificatePolicies([x509.PolicyInformation(policy, [jpki.CPS_URI])]), True),
            (x509.CRLDistributionPoints([distribution_point]), False),
            (x509.IssuerAlternativeName([issuer_alt_name]), False),
        ]
        if san is not None:
            extensions.append((san, False))
        certificate, _key = builder.issue_leaf(
            ca_cert,
            ca_key,
            subject,
            start=start,
            end=end,
            # nonRepudiation on the 署名用 certificate only
            usage=builder.key_usage(digital_signature=True, non_repudiation=kind == "sign"),
            extensions=extensions,
            key=key,
            subject_key_identifier=False,
        )
        return certificate

    # --- revocation ---------------------------------------------------------------------------
    def revoke(
        self,
        card: CardFile,
        *,
        reason: x509.ReasonFlags = x509.ReasonFlags.affiliation_changed,
        kinds: Iterable[Purpose] = PURPOSES,
        at: datetime | None = None,
    ) -> list[int]:
        """Revoke the card's certificates and publish new CRLs. Returns the revoked serials."""
        state = self._state()
        when = (at or datetime.now(tz=UTC)).astimezone(UTC).replace(microsecond=0)
        serials: list[int] = []
        for kind in kinds:
            serial = card.certificate(kind).serial_number
            entries: list[dict[str, Any]] = state["revoked"][kind]
            if not any(int(entry["serial"], 16) == serial for entry in entries):
                entries.append(
                    {
                        "serial": f"{serial:x}",
                        "revoked_at": when.isoformat(),
                        "reason": reason.value,
                    }
                )
            serials.append(serial)
        self._save_state(state)
        self.write_crls()
        return serials

    def build_crl(
        self, kind: Purpose, *, this_update: datetime, next_update: datetime
    ) -> x509.CertificateRevocationList:
        """A CRL of ``kind``'s CA listing every certificate revoked so far."""
        ca_cert, ca_key = self.ca(kind)
        state = self._state()
        state["crl_number"][kind] += 1
        self._save_state(state)
        revoked = [
            x509.RevokedCertificateBuilder()
            .serial_number(int(entry["serial"], 16))
            .revocation_date(datetime.fromisoformat(entry["revoked_at"]))
            .add_extension(x509.CRLReason(x509.ReasonFlags(entry["reason"])), critical=False)
            .build()
            for entry in state["revoked"][kind]
        ]
        return builder.build_crl(
            ca_cert,
            ca_key,
            this_update=this_update,
            next_update=next_update,
            number=state["crl_number"][kind],
            revoked=revoked,
        )

    def write_crls(
        self, *, valid_for: timedelta = timedelta(days=1), this_update: datetime | None = None
    ) -> list[Path]:
        """Publish fresh CRLs (DER) of both CAs; J-LIS updates its CRL daily."""
        start = (this_update or datetime.now(tz=UTC)).astimezone(UTC).replace(microsecond=0)
        paths = []
        for kind in PURPOSES:
            crl = self.build_crl(kind, this_update=start, next_update=start + valid_for)
            path = self.crl_path(kind)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(crl.public_bytes(serialization.Encoding.DER))
            tmp.replace(path)
            paths.append(path)
        return paths

    def revoked_serials(self, kind: Purpose) -> set[int]:
        return {int(entry["serial"], 16) for entry in self._state()["revoked"][kind]}
