"""Renewal of protected templates from kept enrollment images after a key rotation (ISO/IEC 24745
renewability without a new capture).

``carekey keys rotate-biometric`` starts a new biometric key version; templates of older versions are retired
(no longer searched). People who opted in to keeping their enrollment images (``biometric_image_retention``)
are renewed here; everyone else re-enrolls at their next capture, as before. Per person, in its own unit of work:

1. re-check that they still hold images of another key version and grant both biometric consents (a
   revocation since the plan wins: they are skipped; ``RetentionService`` deletes what a revocation left);
2. ``authorize``: the renewal job (role admin) for purpose ``biometric_image_retention``, action
   ``renew_biometric``. The grant is appended to the transparency log with the person's id BEFORE any image
   is decrypted, so the person sees this processing in their access list; its scope tag names the person's
   program and the modalities renewed (the log receipt a matcher service checks);
3. decrypt each stale image in memory and have the matcher extract their templates under the current key version
   (``MatcherPort.renew``: in this process, or one request to ``carekey matcher serve`` carrying the entry's log
   receipt: the registry never holds the biometric secret). A corrupt ciphertext or an unusable image (any error
   while decoding or extracting) fails THIS person with a clear TemplateError (their access stays logged, nothing
   else changes) and the job goes on with the others; a matcher that cannot be reached stops the job
   (``MatcherUnavailable``: nothing of that person was stored);
4. store the new templates, relink the images to them, delete the person's retired templates of those
   modalities. A position that already has a current-version template (re-enrolled since the rotation), or
   whose image was replaced meanwhile, is skipped: never two current templates for one position. The images
   never leave this function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NoReturn

from carekey.audit.receipt import Receipt, scope_tag
from carekey.domain.ids import new_id
from carekey.domain.program import Role
from carekey.domain.purposes import Purpose
from carekey.errors import CarekeyError, MatcherUnavailable, TemplateError
from carekey.policy.decision import Action
from carekey.services.access import authorize, consents_of
from carekey.services.biometrics import BiometricMatcher
from carekey.services.deps import Actor, Deps
from carekey.services.images import open_image
from carekey.services.matcher import as_port, renewal_scope
from carekey.services.records import data_key, load_row
from carekey.storage.protocols import ImageRow, TemplateRow, UnitOfWork

RENEWAL_JOB = Actor("renewal-job", "renewal-job", Role.ADMIN, frozenset())
PURPOSE = Purpose.BIOMETRIC_IMAGE_RETENTION
NEEDED = frozenset({Purpose.BIOMETRIC_IDENTIFICATION, Purpose.BIOMETRIC_IMAGE_RETENTION})
Progress = Callable[[Iterable[str], str, int], Iterator[str]]


@dataclass
class RenewalReport:
    key_version: int
    renewed: list[str] = field(default_factory=list)  # person ids whose templates were re-extracted
    templates: int = 0  # templates created
    failed: dict[str, str] = field(default_factory=dict)  # person id -> why (corrupt or unusable kept image)
    skipped: list[str] = field(default_factory=list)  # stale images without both consents (left to retention)


class RenewalService:
    def __init__(self, deps: Deps, matcher: BiometricMatcher) -> None:
        self.d = deps
        self.matcher = matcher

    def plan(self) -> tuple[list[str], list[str]]:
        """(people due for renewal, people holding stale images without both consents)."""
        with self.d.uow(read_only=True) as uow:
            stale = uow.images.stale_person_ids(self.matcher.key_version)
            due = [p for p in stale if consents_of(uow, p) >= NEEDED]
        return due, [p for p in stale if p not in set(due)]

    def run(self, progress: Progress | None = None, actor: Actor = RENEWAL_JOB) -> RenewalReport:
        due, skipped = self.plan()
        report = RenewalReport(self.matcher.key_version, skipped=skipped)
        for person_id in progress(due, "renewal", len(due)) if progress else due:
            try:
                made = self._renew(actor, person_id)
            except MatcherUnavailable:
                raise  # every next person would fail the same way: stop, nothing of this person was stored
            except CarekeyError as err:
                report.failed[person_id] = err.message
                continue
            if not made:  # nothing left to renew (revoked, or re-enrolled under the current version meanwhile)
                report.skipped.append(person_id)
            else:
                report.renewed.append(person_id)
                report.templates += made
        return report

    def _renew(self, actor: Actor, person_id: str) -> int:
        version, now = self.matcher.key_version, self.d.clock()
        with self.d.uow() as uow:
            if not self._due(uow, person_id) or not consents_of(uow, person_id) >= NEEDED:
                return 0
            program_id = load_row(uow, person_id).program_id
            receipts: list[Receipt] = []
            modalities = renewal_scope(i.modality for i in self._due(uow, person_id))
            scope = scope_tag(program_id, modalities)
            authorize(
                uow,
                now,
                actor,
                Action.RENEW_BIOMETRIC,
                PURPOSE.value,
                person_id=person_id,
                detail=scope,
                receipts=receipts,
            )
            due = self._due(uow, person_id)  # again, now under the log lock: a re-enrollment committed since wins
            if not due or renewal_scope(i.modality for i in due) != modalities:
                # a re-enrollment committed since changed what is due (the receipt's scope would not match the
                # request): nothing is read now, the next run renews what is left
                uow.commit()
                return 0
            receipt = receipts[-1] if receipts else None
            templates = self._extract(uow, person_id, program_id, due, receipt)
            made = 0
            for image, template in zip(due, templates, strict=True):
                # claim the image (compare-and-set on its key version): if it was replaced or renewed meanwhile,
                # this older capture must not add a second current-version template for its position
                if uow.images.relink(image.id, None, version, image.key_version) != 1:
                    continue
                row = TemplateRow(new_id("T"), person_id, image.modality, image.position, version, template, now)
                uow.biometrics.add(row)
                uow.images.relink(image.id, row.id, version, version)
                made += 1
            for modality in sorted({i.modality for i in due}):
                uow.biometrics.delete_retired(version, person_id=person_id, modality=modality)
            uow.commit()
        return made

    def _due(self, uow: UnitOfWork, person_id: str) -> list[ImageRow]:
        """The person's kept images of another key version, except for positions that already have a template
        of the current version (re-enrolled since the rotation: the newer capture wins, the old image is left
        to ``keep_image``'s replacement or to retention)."""
        version = self.matcher.key_version
        current = {(t.modality, t.position) for t in uow.biometrics.for_person(person_id) if t.key_version == version}
        return [
            i
            for i in uow.images.for_person(person_id)
            if i.key_version != version and (i.modality, i.position) not in current
        ]

    def _extract(
        self, uow: UnitOfWork, person_id: str, program_id: str, stale: list[ImageRow], receipt: Receipt | None
    ) -> list[bytes]:
        """Templates of the stale images, in order; on any failure (ours, or an unexpected one from decoding or
        the extractor, e.g. OpenCV/numpy) the logged access is committed (the images were read) and a
        TemplateError names the image, so the job goes on with the next person."""
        key = data_key(self.d.crypto, load_row(uow, person_id))
        opened: list[tuple[str, bytes]] = []
        for image in stale:
            try:
                opened.append((image.modality, open_image(self.d.crypto, key, image)))
            except Exception as err:  # noqa: BLE001 - any failure fails this person only, never the whole job
                self._fail(uow, err, f"{image.modality} image ({image.position or 'no position'})")
        try:
            return as_port(self.matcher).renew(receipt, program_id, opened)
        except MatcherUnavailable:
            uow.commit()  # the access was logged; nothing else of this person is written
            raise
        except Exception as err:  # noqa: BLE001 - as above
            what = (
                f"{stale[0].modality} image ({stale[0].position or 'no position'})"
                if len(stale) == 1
                else f"{renewal_scope(i.modality for i in stale)} images"
            )
            self._fail(uow, err, what)

    @staticmethod
    def _fail(uow: UnitOfWork, err: Exception, what: str) -> NoReturn:
        why = err.message if isinstance(err, CarekeyError) else f"could not re-extract ({type(err).__name__})"
        uow.commit()
        raise TemplateError(
            f"the kept {what} could not be renewed: {why}; the person re-enrolls at their next capture"
        ) from None
