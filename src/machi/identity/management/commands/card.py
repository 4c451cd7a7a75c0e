"""``python -m machi card …``: the test card authority and My Number card simulator.

    python -m machi card init
    python -m machi card issue --name "加古川 花子" --birth 1990-01-02 --sex 2 \\
        --address "兵庫県加古川市加古川町北在家2000" --out card.json
    python -m machi card sign card.json --data form.txt          # base64 signature (署名用)
    python -m machi card login card.json --challenge machi-card-login:…   # (利用者証明用)
    python -m machi card show card.json [--pem sign|auth]
    python -m machi card revoke card.json [--reason affiliationChanged] [--only sign|auth]
    python -m machi card crl
    python -m machi card verify --certificate card.json --data form.txt --signature …
    python -m machi card companion <QR code URL> [--card var/demo-card.json]   # the phone app

Everything it makes is marked TEST ONLY and is trusted only outside production.
"""

from __future__ import annotations

import base64
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from machi.identity import jpki
from machi.identity.verification import CardVerificationError, verify_card_signature
from machi.testing_pki import companion
from machi.testing_pki.cards import (
    DEFAULT_CRL_BASE_URL,
    JST,
    PURPOSES,
    CardAuthority,
    CardAuthorityError,
    CardFile,
    Purpose,
)

REASONS = [flag.value for flag in x509.ReasonFlags if flag != x509.ReasonFlags.remove_from_crl]


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from exc


def _moment(value: str) -> datetime:
    """An ISO date or date-time; without a zone it is Japan time."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not an ISO date or date-time: {value}") from exc
    if len(value) == 10:  # a bare date means its first second
        moment = datetime.combine(moment.date(), time.min)
    return moment if moment.tzinfo else moment.replace(tzinfo=JST)


class Command(BaseCommand):
    help = "Test certificate authority and My Number card simulator (JPKI-like, TEST ONLY)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        init = sub.add_parser("init", help="create the test CAs in MACHI_CARD_CA_DIR if absent")
        init.add_argument("--crl-base-url", default=DEFAULT_CRL_BASE_URL)
        init.add_argument("--valid-years", type=int, default=10)

        issue = sub.add_parser("issue", help="issue a card (both certificates and keys)")
        issue.add_argument("--name", required=True, help="氏名 (氏と名を空白で区切る)")
        issue.add_argument("--birth", required=True, type=_date, help="生年月日 YYYY-MM-DD")
        issue.add_argument(
            "--sex", required=True, choices=sorted(jpki.SEX_CODES), help="1 男, 2 女, 3 不明"
        )
        issue.add_argument("--address", required=True, help="住所 (都道府県から)")
        issue.add_argument("--out", required=True, type=Path, help="card file to write (0600)")
        issue.add_argument("--valid-days", type=int, help="default: until the 5th birthday")
        issue.add_argument("--not-before", type=_moment, help="ISO date/time (Japan time)")
        issue.add_argument("--not-after", type=_moment, help="ISO date/time (Japan time)")

        revoke = sub.add_parser("revoke", help="revoke a card and publish new CRLs")
        revoke.add_argument("card", type=Path)
        revoke.add_argument(
            "--reason",
            choices=REASONS,
            default=x509.ReasonFlags.affiliation_changed.value,
            help="CRL reason (default affiliationChanged, as when moving)",
        )
        revoke.add_argument("--only", choices=PURPOSES, help="revoke one certificate only")

        crl = sub.add_parser("crl", help="publish fresh CRLs and print their paths")
        crl.add_argument("--valid-hours", type=int, default=24)

        sign = sub.add_parser("sign", help="sign data with the 署名用 key; prints base64")
        sign.add_argument("card", type=Path)
        sign.add_argument("--data", required=True, help="file to sign, or - for stdin")
        sign.add_argument("--out", type=Path, help="write the base64 signature here instead")

        login = sub.add_parser("login", help="sign a login challenge with the 利用者証明用 key")
        login.add_argument("card", type=Path)
        login.add_argument("--challenge", required=True, help="the text shown on the page")

        show = sub.add_parser("show", help="show a card's 4 items and certificates")
        show.add_argument("card", type=Path)
        show.add_argument("--pem", choices=PURPOSES, help="print only this certificate (PEM)")

        verify = sub.add_parser("verify", help="verify a signature as the server would")
        verify.add_argument("--certificate", required=True, type=Path, help="card file or PEM")
        verify.add_argument("--data", required=True, help="signed file, or - for stdin")
        verify.add_argument("--signature", required=True, help="base64, or @file")
        verify.add_argument("--purpose", choices=PURPOSES, default="sign")

        companion = sub.add_parser(
            "companion", help="answer a smartphone signing request (the QR code's URL)"
        )
        companion.add_argument("url", help="the signing request URL shown as a QR code")
        companion.add_argument("--card", type=Path, default=None, help="default var/demo-card.json")

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(self, f"_{options['subcommand']}")
        try:
            handler(options)
        except CardAuthorityError as exc:
            raise CommandError(str(exc)) from exc

    # --- subcommands ------------------------------------------------------------------------------
    def _init(self, options: dict[str, Any]) -> None:
        authority = CardAuthority.from_settings()
        if authority.init(crl_base_url=options["crl_base_url"], valid_years=options["valid_years"]):
            self.stdout.write(self.style.SUCCESS(f"Created test CAs in {authority.directory}"))
        else:
            self.stdout.write(f"Test CAs already exist in {authority.directory}")
        for kind in PURPOSES:
            self.stdout.write(f"  {kind}: {authority.cert_path(kind)}")

    def _issue(self, options: dict[str, Any]) -> None:
        authority = CardAuthority.from_settings()
        card = authority.issue(
            name=options["name"],
            sex=options["sex"],
            birth_date=options["birth"],
            address=options["address"],
            not_before=options["not_before"],
            not_after=options["not_after"],
            valid_days=options["valid_days"],
        )
        out: Path = options["out"]
        card.save(out)
        self.stdout.write(self.style.SUCCESS(f"Issued test card {out}"))
        self._summary(card)

    def _revoke(self, options: dict[str, Any]) -> None:
        card = CardFile.load(options["card"])
        kinds: tuple[Purpose, ...] = (options["only"],) if options["only"] else PURPOSES
        serials = CardAuthority.from_settings().revoke(
            card, reason=x509.ReasonFlags(options["reason"]), kinds=kinds
        )
        for kind, serial in zip(kinds, serials, strict=True):
            self.stdout.write(f"Revoked {kind} certificate serial {serial:x} ({options['reason']})")

    def _crl(self, options: dict[str, Any]) -> None:
        paths = CardAuthority.from_settings().write_crls(
            valid_for=timedelta(hours=options["valid_hours"])
        )
        for path in paths:
            self.stdout.write(str(path))

    def _companion(self, options: dict[str, Any]) -> None:
        card_path = options["card"] or Path(settings.VAR_DIR) / "demo-card.json"
        try:
            answer = companion.run(options["url"], card_path)
        except companion.CompanionError as exc:
            raise CommandError(f"the signing request was not answered: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Signed and sent ({answer.get('status', '')})"))
        self.stdout.write("Press 「確認する」 on the page to continue.")

    def _read_data(self, source: str) -> bytes:
        if source == "-":
            return sys.stdin.buffer.read()
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {source}: {exc}") from exc

    def _sign(self, options: dict[str, Any]) -> None:
        card = CardFile.load(options["card"])
        signature = base64.b64encode(card.sign(self._read_data(options["data"]))).decode("ascii")
        if options["out"]:
            options["out"].write_text(signature + "\n", encoding="ascii")
            self.stderr.write(f"Signature written to {options['out']}")
        else:
            self.stdout.write(signature)

    def _login(self, options: dict[str, Any]) -> None:
        card = CardFile.load(options["card"])
        challenge = options["challenge"].strip()
        self.stdout.write(base64.b64encode(card.sign_login(challenge)).decode("ascii"))
        self.stderr.write(
            "Paste this signature and the certificate printed by "
            f"`python -m machi card show {options['card']} --pem auth`."
        )

    def _show(self, options: dict[str, Any]) -> None:
        card = CardFile.load(options["card"])
        if options["pem"]:
            self.stdout.write(card.certificate_pem(options["pem"]).rstrip("\n"))
            return
        self._summary(card)

    def _summary(self, card: CardFile) -> None:
        items = jpki.basic_four_items_from_certificate(card.sign_certificate)
        birth = items.birth_date_raw if items else ""
        self.stdout.write(f"  氏名: {card.name}")
        self.stdout.write(f"  生年月日: {card.birth_date.isoformat()} ({birth})")
        self.stdout.write(f"  性別: {card.sex} ({jpki.SEX_CODES[card.sex]})")
        self.stdout.write(f"  住所: {card.address}")
        for kind in PURPOSES:
            certificate = card.certificate(kind)
            self.stdout.write(
                f"  {kind}: serial {certificate.serial_number:x}, "
                f"valid {certificate.not_valid_before_utc.isoformat()} – "
                f"{certificate.not_valid_after_utc.isoformat()}, "
                f"issuer {certificate.issuer.rfc4514_string()}"
            )

    def _verify(self, options: dict[str, Any]) -> None:
        path: Path = options["certificate"]
        purpose: Purpose = options["purpose"]
        text = path.read_text(encoding="utf-8")
        certificate_pem = (
            CardFile.load(path).certificate_pem(purpose) if text.lstrip().startswith("{") else text
        )
        signature_text: str = options["signature"]
        if signature_text.startswith("@"):
            signature_text = Path(signature_text[1:]).read_text(encoding="ascii")
        try:
            signature = base64.b64decode("".join(signature_text.split()), validate=True)
            verified = verify_card_signature(
                data=self._read_data(options["data"]),
                signature=signature,
                certificate_pem=certificate_pem,
                purpose=purpose,
            )
        except ValueError as exc:
            raise CommandError(f"signature is not base64: {exc}") from exc
        except CardVerificationError as exc:
            raise CommandError(f"{exc.code}: {exc.message} ({exc.detail})") from exc
        self.stdout.write(self.style.SUCCESS(f"OK: valid {purpose} signature"))
        self.stdout.write(f"  serial {verified.serial_hex}, issuer {verified.issuer}")
        self.stdout.write(
            f"  revocation: {verified.revocation.method} thisUpdate "
            f"{verified.revocation.this_update.isoformat() if verified.revocation.this_update else '-'}"
        )
        if verified.name:
            self.stdout.write(f"  氏名 {verified.name} / 生年月日 {verified.birth_date}")
