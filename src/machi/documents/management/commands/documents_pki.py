"""``python -m machi documents_pki …``: the TEST certificates for signed documents.

    python -m machi documents_pki init [--municipality 282103 …] [--all-municipalities]
    python -m machi documents_pki show
    python -m machi documents_pki signer 282103          # (re)issue one organisation certificate

Everything it makes is marked TEST ONLY; production installs real certificates instead
(see machi.documents.pki).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from machi.core.models import Municipality
from machi.documents.pki import DocumentPki, PkiError, configured_trust_roots


class Command(BaseCommand):
    help = "Create or show the TEST organisation CA, signing certificates and TSA for documents."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        init = sub.add_parser("init", help="create the test CAs and TSA (kept if present)")
        init.add_argument("--municipality", action="append", default=[], metavar="CODE")
        init.add_argument(
            "--all-municipalities",
            action="store_true",
            help="also issue a signing certificate for every active municipality",
        )
        sub.add_parser("show", help="print paths and fingerprints")
        signer = sub.add_parser("signer", help="(re)issue one municipality's certificate")
        signer.add_argument("code")

    def _pki(self) -> DocumentPki:
        return DocumentPki(settings.MACHI_DOCUMENTS_PKI_DIR, auto_create=True)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "init":
                self._init(options["municipality"], options["all_municipalities"])
            elif action == "show":
                self._show()
            elif action == "signer":
                self._signer(options["code"], force=True)
        except PkiError as exc:
            raise CommandError(str(exc)) from exc

    def _init(self, codes: list[str], every: bool) -> None:
        pki = self._pki()
        if pki.init():
            self.stdout.write(f"Created the TEST document PKI in {pki.directory}")
        else:
            self.stdout.write(f"The document PKI in {pki.directory} already exists")
        if every:
            codes = list(Municipality.objects.filter(is_active=True).values_list("code", flat=True))
        for code in codes:
            self._signer(code, force=False)

    def _signer(self, code: str, *, force: bool) -> None:
        pki = self._pki()
        try:
            municipality = Municipality.objects.get(code=code)
        except Municipality.DoesNotExist as exc:
            raise CommandError(f"no municipality {code}") from exc
        if force:
            credential = pki.issue_signer(code=code, name=municipality.name, kind=municipality.kind)
        else:
            credential = pki.signer(code=code, name=municipality.name, kind=municipality.kind)
        self.stdout.write(
            f"{code}: {credential.certificate.subject.rfc4514_string()} ({pki.signer_path(code)})"
        )

    def _show(self) -> None:
        pki = DocumentPki.from_settings()
        self.stdout.write(f"directory: {pki.directory}")
        if not pki.exists():
            self.stdout.write("not created yet: run `python -m machi documents_pki init`")
            return
        for label, path in (
            ("organisation CA", pki.org_ca_path),
            ("TSA root", pki.tsa_root_path),
            ("TSA", pki.tsa_path),
        ):
            self.stdout.write(f"{label}: {path}")
        for certificate in configured_trust_roots():
            fingerprint = certificate.fingerprint(hashes.SHA256()).hex(":")
            self.stdout.write(
                f"trusted: {certificate.subject.rfc4514_string()} SHA-256 {fingerprint}"
            )
        if pki.signers_dir.exists():
            for path in sorted(pki.signers_dir.glob("*.pem")):
                self.stdout.write(f"signer: {path}")
        self.stdout.write(f"TSA: {settings.MACHI_TSA_URL or 'built-in (in-process and /tsa/)'}")
