"""Which lease a mobile-money transfer pays, in order of certainty, among the leases of the owner whose
merchant statement it comes from.

1. The lease's reference found in what the sender typed, whatever the case, spaces or dashes
   ("bail lease 000123", "LEASE-000123 loyer nov"), or with one typo (a letter missing, added, wrong, or
   two swapped: "LEASE-00123", "LEASE-000132"). An exact reference wins over near ones; one typo is
   accepted only when it designates one lease alone.
2. The sender's number equal to a tenant's phone, however either is written (+224 …, 00224 …, 6…):
   sure when it is the phone of one tenant with one lease running at the transfer's date.
3. Otherwise, candidates for a manager: the leases running at that date whose rent divides the amount
   (one month, or several paid at once), closest to one month first.

Only 1 and 2, when they point at one lease, are sure; everything else goes to the review queue with the
candidates and the reason. A sender's number shared by two tenants, a reference that fits two leases, a
tenant paying from a relative's phone without a reference: a manager decides.

Edit distance: the optimal string alignment distance of RapidFuzz (a maintained C++ library), so that a
swap of two characters counts as one typo; the reference's windows are looked up through their one-deletion
variants (the symmetric-delete idea), so a transfer is compared with a few leases, not with all of them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from akig_data.writes.statement_formats import Transfer, national_phone

MAX_CANDIDATES = 10
MAX_MONTHS_AT_ONCE = 12


@dataclass(frozen=True)
class LeaseEntry:
    lease_id: int
    lease_ref: str
    tenant_phone: str | None       # national_phone() of the tenant's phone
    rent: int
    start_date: dt.date
    end_date: dt.date | None

    def running_on(self, day: dt.date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


@dataclass(frozen=True)
class Match:
    """A sure lease (rule 'reference' or 'phone'), or candidates and a reason for the review queue."""

    lease: LeaseEntry | None
    rule: str | None
    candidates: tuple[LeaseEntry, ...] = ()
    reason: str | None = None

    @property
    def sure(self) -> bool:
        return self.lease is not None


def compact(text: str | None) -> str:
    """Upper case, letters and digits only: "Lease-000 123" -> "LEASE000123"."""
    return re.sub(r"[^A-Z0-9]", "", (text or "").upper())


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class LeaseDirectory:
    """The owner's leases, indexed by compacted reference (and its one-deletion variants) and by phone."""

    def __init__(self, leases: list[LeaseEntry]):
        self.leases = leases
        self._exact: dict[str, LeaseEntry] = {}
        self._near: dict[str, set[int]] = defaultdict(set)
        self._by_phone: dict[str, list[LeaseEntry]] = defaultdict(list)
        self.lengths: set[int] = set()
        for index, lease in enumerate(leases):
            key = compact(lease.lease_ref)
            if len(key) < 6:      # too short to find safely in free text
                continue
            self._exact[key] = lease
            self.lengths.add(len(key))
            for variant in {key} | _deletions(key):
                self._near[variant].add(index)
            if lease.tenant_phone:
                self._by_phone[lease.tenant_phone].append(lease)
        for lease in leases:
            if lease.tenant_phone and len(compact(lease.lease_ref)) < 6:
                self._by_phone[lease.tenant_phone].append(lease)

    def by_reference(self, text: str | None) -> tuple[list[LeaseEntry], bool]:
        """(leases, exact): the leases whose reference appears in `text`; exactly if any does, else those
        within one typo."""
        typed = compact(text)
        if not typed:
            return [], False
        exact = {lease.lease_id: lease for n in self.lengths for i in range(len(typed) - n + 1)
                 if (lease := self._exact.get(typed[i:i + n])) is not None}
        if exact:
            return list(exact.values()), True
        near: dict[int, LeaseEntry] = {}
        for n in self.lengths:
            for size in (n - 1, n, n + 1):
                for i in range(len(typed) - size + 1):
                    window = typed[i:i + size]
                    for variant in {window} | _deletions(window):
                        for index in self._near.get(variant, ()):
                            lease = self.leases[index]
                            if lease.lease_id not in near and OSA.distance(window, compact(lease.lease_ref),
                                                                           score_cutoff=1) <= 1:
                                near[lease.lease_id] = lease
        return list(near.values()), False

    def by_phone(self, phone: str | None, day: dt.date) -> list[LeaseEntry]:
        """The leases of the tenants with this phone: those running on `day`, or all when none is."""
        if not phone:
            return []
        leases = self._by_phone.get(phone, [])
        running = [lease for lease in leases if lease.running_on(day)]
        return running or leases

    def by_amount(self, amount: int, day: dt.date) -> list[LeaseEntry]:
        """Leases running on `day` whose rent times 1 to 12 months is the amount, fewest months first."""
        fits = [(amount // lease.rent, lease.lease_ref, lease) for lease in self.leases
                if lease.running_on(day) and amount % lease.rent == 0 and 1 <= amount // lease.rent <= MAX_MONTHS_AT_ONCE]
        return [lease for _, _, lease in sorted(fits)][:MAX_CANDIDATES]


def match(transfer: Transfer, directory: LeaseDirectory) -> Match:
    """The lease `transfer` pays, when sure, else the candidates and why a manager must decide (French)."""
    day = transfer.occurred_at.date()
    by_reference, exact = directory.by_reference(transfer.reference_text)
    if len(by_reference) == 1:
        return Match(by_reference[0], "reference")
    by_phone = directory.by_phone(transfer.sender_phone, day)
    if len(by_reference) > 1:
        refs = ", ".join(sorted(lease.lease_ref for lease in by_reference))
        phone_too = [lease for lease in by_reference if lease in by_phone]
        if len(phone_too) == 1:   # the typed reference is ambiguous, the sender's phone says which
            return Match(phone_too[0], "reference")
        what = "correspond exactement à" if exact else "est à une faute près de"
        return Match(None, None, tuple(by_reference[:MAX_CANDIDATES]),
                     f"La référence saisie {what} plusieurs baux ({refs}).")
    if len(by_phone) == 1:
        return Match(by_phone[0], "phone")
    if len(by_phone) > 1:
        return Match(None, None, tuple(by_phone[:MAX_CANDIDATES]),
                     f"Le numéro de l'expéditeur est celui de {len(by_phone)} baux : lequel paie-t-il ?")
    by_amount = directory.by_amount(transfer.amount, day)
    if by_amount:
        return Match(None, None, tuple(by_amount),
                     "Ni référence de bail ni numéro de locataire reconnus ; baux dont le loyer correspond au "
                     f"montant : {len(by_amount)}{' (les 10 plus proches)' if len(by_amount) == MAX_CANDIDATES else ''}.")
    return Match(None, None, (), "Ni référence de bail, ni numéro de locataire, ni loyer correspondant : "
                                 "à attribuer à la main ou à rejeter.")


def lease_entries(rows) -> list[LeaseEntry]:
    """LeaseEntry objects from rows with lease_id, lease_ref, phone, rent, start_date, end_date."""
    return [LeaseEntry(r.lease_id, r.lease_ref, national_phone(r.phone), int(r.rent), r.start_date, r.end_date)
            for r in rows]
