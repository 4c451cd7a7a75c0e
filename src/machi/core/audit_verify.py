"""Verification of the audit log: every chain, then every checkpoint against the chains.

Per chain, the first broken entry (missing, relinked, changed or forged: a link that is not the
HMAC of its content under the configured key), or its head not matching its last entry. Per
checkpoint: numbering, the link to its predecessor, its digest, its time-stamp token (imprint
over the digest, signature and trust through the registered TSA verifier); then that every
chain still holds each checkpointed entry with that link, so entries removed together with a
rewound head, or a whole chain removed with its head, are named as a missing range.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from machi.core.audit_chain import GENESIS_HASH, audit_keys, link_matches
from machi.core.audit_checkpoints import (
    TimestampInvalid,
    checkpoint_digest,
    timestamper,
    token_info,
)
from machi.core.models import AuditChainHead, AuditCheckpoint, AuditEntry


@dataclass(frozen=True)
class ChainBreak:
    """Where and why one audit chain stops verifying.

    ``last_sequence`` ends a missing range (``checkpoint_missing``); ``checkpoint`` names the
    checkpoint that shows the problem.
    """

    chain: str
    sequence: int
    entry_id: int | None
    reason: str
    last_sequence: int | None = None
    checkpoint: int | None = None


@dataclass(frozen=True)
class CheckpointProblem:
    """A checkpoint that does not verify (its number and why)."""

    number: int
    reason: str


@dataclass(frozen=True)
class AuditVerification:
    """Result of checking every audit chain and checkpoint."""

    entries_checked: int
    chains_checked: int
    breaks: list[ChainBreak]
    checkpoints_checked: int = 0
    checkpoint_problems: list[CheckpointProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.checkpoint_problems


def _check_checkpoints(
    checkpoints: list[AuditCheckpoint], exported: list[AuditCheckpoint] | None
) -> tuple[list[AuditCheckpoint], list[CheckpointProblem]]:
    """The checkpoints to hold the chains against, and what is wrong with the checkpoints.

    With ``exported`` (the prefecture's copy), the copy is the reference where both exist.
    """
    problems: list[CheckpointProblem] = []
    by_number = {c.number: c for c in checkpoints}
    if exported is not None:
        # The prefecture's copy is the reference: each exported one must still be here, unchanged.
        for copy in exported:
            stored = by_number.get(copy.number)
            if stored is None:
                problems.append(CheckpointProblem(copy.number, "missing from the database"))
            elif stored.digest != copy.digest or bytes(stored.token) != bytes(copy.token):
                problems.append(CheckpointProblem(copy.number, "differs from the exported copy"))
        by_number.update({copy.number: copy for copy in exported})
    ordered = [by_number[number] for number in sorted(by_number)]
    sound: list[AuditCheckpoint] = []
    previous_digest: str | None = GENESIS_HASH
    expected_number = 1
    for checkpoint in ordered:
        if checkpoint.number != expected_number:
            for missing in range(expected_number, checkpoint.number):
                problems.append(CheckpointProblem(missing, "missing (the numbering has a gap)"))
            previous_digest = None  # unknown: the predecessor is gone
        expected_number = checkpoint.number + 1
        digest = checkpoint_digest(
            number=checkpoint.number,
            created_at=checkpoint.created_at,
            previous_digest=checkpoint.previous_digest,
            heads=[list(head) for head in checkpoint.heads],
        )
        if previous_digest is not None and checkpoint.previous_digest != previous_digest:
            problems.append(
                CheckpointProblem(checkpoint.number, "does not link to the previous checkpoint")
            )
        elif digest != checkpoint.digest:
            problems.append(
                CheckpointProblem(checkpoint.number, "its content does not match its digest")
            )
        else:
            try:
                info = token_info(bytes(checkpoint.token))
                if info.algorithm != "sha256" or info.imprint != bytes.fromhex(digest):
                    raise TimestampInvalid("the time-stamp token is over another digest")
                timestamper().verify(bytes(checkpoint.token), bytes.fromhex(digest))
            except TimestampInvalid as exc:
                problems.append(CheckpointProblem(checkpoint.number, str(exc)))
            except KeyError:
                problems.append(
                    CheckpointProblem(checkpoint.number, "no time-stamp verifier is registered")
                )
            else:
                sound.append(checkpoint)
        previous_digest = checkpoint.digest
    # Only checkpoints that verified themselves say what the chains must hold.
    return sound, problems


def audit_verify(*, exported: Iterable[AuditCheckpoint] | None = None) -> AuditVerification:
    """Verify every chain and checkpoint; ``exported``: the prefecture's copy of checkpoints."""
    keys = audit_keys()
    checkpoints, problems = _check_checkpoints(
        list(AuditCheckpoint.objects.order_by("number")),
        list(exported) if exported is not None else None,
    )
    # chain -> sequence -> [(checkpoint number, link)]
    expected: dict[str, dict[int, list[tuple[int, str]]]] = {}
    for checkpoint in checkpoints:
        for chain, sequence, link in checkpoint.heads:
            if int(sequence) > 0:
                expected.setdefault(str(chain), {}).setdefault(int(sequence), []).append(
                    (checkpoint.number, str(link))
                )
    breaks: list[ChainBreak] = []
    checked = 0
    chains = set(AuditEntry.objects.values_list("chain", flat=True).distinct())
    heads = {head.chain: head for head in AuditChainHead.objects.all()}
    chains.update(heads)
    chains.update(expected)
    for chain in sorted(chains):
        wanted = expected.get(chain, {})
        expected_sequence = 1
        expected_prev = GENESIS_HASH
        last_seen = 0
        broken: ChainBreak | None = None
        mismatch: ChainBreak | None = None
        entries = AuditEntry.objects.filter(chain=chain).order_by("sequence")
        for entry in entries.iterator(chunk_size=2000):
            checked += 1
            last_seen = entry.sequence
            for number, link in wanted.get(entry.sequence, []):
                if mismatch is None and link != entry.entry_hash:
                    mismatch = ChainBreak(
                        chain, entry.sequence, entry.pk, "checkpoint_mismatch", checkpoint=number
                    )
            if broken is not None:
                continue
            if entry.sequence != expected_sequence:
                broken = ChainBreak(chain, expected_sequence, None, "missing")
                continue
            if entry.prev_hash != expected_prev:
                broken = ChainBreak(chain, entry.sequence, entry.pk, "prev_hash_mismatch")
                continue
            matches = link_matches(entry, keys)
            if matches is None:
                broken = ChainBreak(chain, entry.sequence, entry.pk, "unknown_key")
                continue
            if not matches:
                broken = ChainBreak(chain, entry.sequence, entry.pk, "content_changed")
                continue
            expected_prev = entry.entry_hash
            expected_sequence += 1
        if broken is None:
            head = heads.get(chain)
            last_sequence = expected_sequence - 1
            if head is None and last_sequence == 0:
                pass  # a chain known only from checkpoints: reported as missing below
            elif (
                head is None
                or head.last_sequence != last_sequence
                or head.last_hash != expected_prev
            ):
                broken = ChainBreak(chain, last_sequence + 1, None, "tail_missing")
        if broken is not None:
            breaks.append(broken)
        checkpointed = max(wanted, default=0)
        if checkpointed > last_seen:
            number = max(n for n, _link in wanted[checkpointed])
            breaks.append(
                ChainBreak(
                    chain,
                    last_seen + 1,
                    None,
                    "checkpoint_missing",
                    last_sequence=checkpointed,
                    checkpoint=number,
                )
            )
        elif mismatch is not None and broken is None:
            breaks.append(mismatch)
    return AuditVerification(
        entries_checked=checked,
        chains_checked=len(chains),
        breaks=breaks,
        checkpoints_checked=len(checkpoints),
        checkpoint_problems=problems,
    )
