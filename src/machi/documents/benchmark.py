"""Benchmark hook: signed-and-time-stamped documents per second, in-process.

``bench/run.py`` (or a shell) calls ``documents_per_second(seconds)`` with Django set up
against the database to measure. Each iteration issues a 証明書 for a fresh application
through ``services.document_issue``: render (fpdf2 + embedded Japanese font subset), sign
(PAdES B-LT), time-stamp (the TSA of ``MACHI_TSA_URL``; built-in when empty), store and
complete the application in one transaction. Creating the application is not timed.

It writes bench rows (procedure ``bench-documents``, its applications and documents) into
the database; use it on a bench database only.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import TYPE_CHECKING, Any, Final

from machi.core.models import Municipality, MunicipalityKind
from machi.documents.models import DocumentKind
from machi.documents.services import document_issue
from machi.documents.signing import PADES_LEVEL
from machi.documents.tsa import tsa_description
from machi.procedures import services as procedure_services
from machi.procedures.states import Channel

if TYPE_CHECKING:
    # Types only: procedures' rows are written through its bench services.
    from machi.procedures.selectors import Application, FormVersion

BENCH_SLUG: Final = "bench-documents"
BENCH_DEFINITION: Final[dict[str, Any]] = {
    "schema": 1,
    "steps": [
        {
            "key": "applicant",
            "title": {"ja": "申請者"},
            "fields": [
                {"key": "name", "type": "name", "label": {"ja": "氏名"}, "required": True},
                {"key": "purpose", "type": "text", "label": {"ja": "使用目的"}},
            ],
        }
    ],
}
BENCH_CLEANED: Final[dict[str, Any]] = {
    "applicant": {
        "name": {
            "family": "加古川",
            "given": "花子",
            "family_kana": "カコガワ",
            "given_kana": "ハナコ",
        },
        "purpose": "ベンチマーク",
    }
}


def _municipality(code: str | None) -> Municipality:
    if code:
        return Municipality.objects.get(code=code)
    existing = (
        Municipality.objects.filter(is_active=True)
        .exclude(kind=MunicipalityKind.PREFECTURE)
        .order_by("code")
        .first()
    )
    if existing is not None:
        return existing
    prefecture, _created = Municipality.objects.get_or_create(
        code="280003",
        defaults={
            "name": "兵庫県",
            "name_kana": "ひょうごけん",
            "kind": MunicipalityKind.PREFECTURE,
        },
    )
    municipality, _created = Municipality.objects.get_or_create(
        code="282103",
        defaults={
            "name": "加古川市",
            "name_kana": "かこがわし",
            "kind": MunicipalityKind.CITY,
            "prefecture": prefecture,
        },
    )
    return municipality


def _form_version(municipality: Municipality) -> FormVersion:
    _procedure, version = procedure_services.bench_procedure_ensure(
        municipality_code=municipality.code,
        slug=BENCH_SLUG,
        name="ベンチマーク用 証明書の交付",
        definition=BENCH_DEFINITION,
    )
    return version


def _application(version: FormVersion) -> Application:
    return procedure_services.application_create_submitted(
        form_version=version,
        cleaned=BENCH_CLEANED,
        receipt_number=f"BENCH-{uuid.uuid4().hex[:20]}",
        channel=Channel.ONLINE,
    )


def documents_per_second(
    seconds: float, *, municipality_code: str | None = None, warmup: int = 1
) -> dict[str, Any]:
    """Issue documents for about ``seconds`` (at least one) and report the rate.

    Returns ``documents``, ``wall_seconds``, ``issue_seconds`` (time inside
    ``document_issue`` only), ``per_second`` (documents / issue_seconds), ``mean_ms``,
    ``p50_ms``, ``p95_ms``, ``max_ms``, ``mean_pdf_bytes``, ``tsa`` and ``pades_level``.
    The first ``warmup`` documents (certificate creation, font loading) are not counted.
    """
    version = _form_version(_municipality(municipality_code))
    for _i in range(max(warmup, 0)):
        document_issue(application=_application(version), actor=None, kind=DocumentKind.CERTIFICATE)
    durations: list[float] = []
    sizes: list[int] = []
    started = time.perf_counter()
    deadline = started + max(seconds, 0.0)
    while not durations or time.perf_counter() < deadline:
        application = _application(version)
        begin = time.perf_counter()
        document = document_issue(
            application=application, actor=None, kind=DocumentKind.CERTIFICATE
        )
        durations.append(time.perf_counter() - begin)
        sizes.append(document.size)
    wall = time.perf_counter() - started
    issue_seconds = sum(durations)
    ordered = sorted(durations)
    return {
        "documents": len(durations),
        "wall_seconds": round(wall, 3),
        "issue_seconds": round(issue_seconds, 3),
        "per_second": round(len(durations) / issue_seconds, 2) if issue_seconds else 0.0,
        "mean_ms": round(statistics.fmean(durations) * 1000, 1),
        "p50_ms": round(statistics.median(durations) * 1000, 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_pdf_bytes": int(statistics.fmean(sizes)),
        "tsa": tsa_description(),
        "pades_level": PADES_LEVEL,
    }
