"""Consent for building projects (adding an elevator, 改建): whether a campaign passes, and what
is still missing, as plain functions of the households' ballots; and the support rate over time.

The rule is a plain function of the households' ballots (`evaluate`), tested directly. All
arithmetic is exact: shares are `Fraction`s, floor areas are `Decimal` m² (stored as whole dm²),
so "exactly 2/3" and "exactly 3/4" are decided right.

The rules (configurable per campaign, `ConsentRule`):

- **Art. 278** (PRC Civil Code, default, for 改建): quorum: households holding at least 2/3 of the
  floor area AND at least 2/3 of the households take part; approval: at least 3/4 of the
  participating area AND at least 3/4 of the participating households agree.
- **Majority** (Art. 278's rule for other matters): the same 2/3 quorum; more than 1/2 of the
  participating area AND more than 1/2 of the participating households agree.
- **Unanimity** (some districts, for a unit): every household of the scope agrees. Area plays no
  part.

Under every rule a household flagged "own space occupied" must agree itself: while it has not
agreed (disagrees, abstains or has not voted) the project does not pass.

Taking part means casting any vote, abstaining included: an abstention counts towards the quorum
and against approval (it is not an agreement).

Unknown floor areas: a household whose area is unknown counts fully by headcount. The area
figures shown are computed over the households whose area is known, and are labelled so; but
under a rule that uses area (Art. 278, majority) the project cannot be declared passed while any
household's area is unknown, because the area thresholds are shares of the whole floor area and
cannot be proved without it. Enter the missing areas to decide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction

from storage.models import CampaignStatus, Channel, ConsentCampaign, ConsentRule, VoteChoice

# --- the rule ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    """Thresholds of one rule. `quorum` and `approval` are shares; `strict` means approval must
    exceed the share rather than reach it; `uses_area` means area is tested as well."""

    quorum: Fraction
    approval: Fraction
    strict: bool
    uses_area: bool


RULES: dict[ConsentRule, RuleSpec] = {
    ConsentRule.ART278: RuleSpec(Fraction(2, 3), Fraction(3, 4), strict=False, uses_area=True),
    ConsentRule.MAJORITY: RuleSpec(Fraction(2, 3), Fraction(1, 2), strict=True, uses_area=True),
    # every household takes part and every participant agrees: the whole scope agrees
    ConsentRule.UNANIMITY: RuleSpec(Fraction(1), Fraction(1), strict=False, uses_area=False),
}

# the ways a worker records a vote given in person (always with the evidence they saw)
RECORDED_CHANNELS = (Channel.VISIT, Channel.MEETING, Channel.PAPER, Channel.PROXY)
VOTE_CHANNELS = (Channel.TELEGRAM, *RECORDED_CHANNELS)  # the phone, or recorded by a worker


@dataclass(frozen=True)
class Ballot:
    """One household as the rule sees it: its area (None: unknown) and its current vote."""

    room: str
    area: Decimal | None
    choice: VoteChoice | None
    flagged: bool = False  # its own space is occupied: must agree individually

    @property
    def agrees(self) -> bool:
        return self.choice is VoteChoice.AGREE

    @property
    def takes_part(self) -> bool:
        return self.choice is not None


@dataclass(frozen=True)
class Measure:
    """One way of counting (households, or m² of floor area)."""

    total: Fraction
    participating: Fraction
    agreeing: Fraction

    @property
    def participation(self) -> Fraction | None:
        return self.participating / self.total if self.total else None

    @property
    def approval(self) -> Fraction | None:
        """Agreeing share of those who took part."""
        return self.agreeing / self.participating if self.participating else None

    @property
    def support(self) -> Fraction | None:
        """Agreeing share of everyone: the support rate watched over time."""
        return self.agreeing / self.total if self.total else None


def reaches(part: Fraction, whole: Fraction, share: Fraction, *, strict: bool) -> bool:
    """`part` is at least (strict: more than) `share` of `whole`; nothing of nothing fails."""
    if whole <= 0:
        return False
    return part > share * whole if strict else part >= share * whole


@dataclass(frozen=True)
class Verdict:
    """Everything the bot says about a campaign's standing."""

    rule: ConsentRule
    heads: Measure
    area: Measure  # over the households whose area is known
    unknown_area_rooms: tuple[str, ...]
    quorum_heads: bool
    approval_heads: bool
    quorum_area: bool | None  # None: not used by the rule, or undecidable (unknown areas)
    approval_area: bool | None
    blocking_rooms: tuple[str, ...]  # flagged households that have not agreed
    passed: bool
    more_households: int | None  # more agreeing households needed (None: cannot reach)
    more_area: Decimal | None  # more agreeing m² needed (None: not used or cannot reach)

    @property
    def area_undecided(self) -> bool:
        return RULES[self.rule].uses_area and bool(self.unknown_area_rooms)


def _frac(value: Decimal | None) -> Fraction:
    return Fraction(value) if value is not None else Fraction(0)


def _count(ballots: Sequence[Ballot], weight: bool) -> Measure:
    def w(b: Ballot) -> Fraction:
        return _frac(b.area) if weight else Fraction(1)

    pool = [b for b in ballots if not weight or b.area is not None]
    return Measure(
        total=sum((w(b) for b in pool), Fraction(0)),
        participating=sum((w(b) for b in pool if b.takes_part), Fraction(0)),
        agreeing=sum((w(b) for b in pool if b.agrees), Fraction(0)),
    )


def more_heads_needed(ballots: Sequence[Ballot], spec: RuleSpec) -> int | None:
    """Fewest households that must come round to "agree" for the headcount tests (and every
    flagged household) to pass; None when even all of them would not do.

    New agreements may come from households that have not voted (they also raise turnout) or
    from those who disagreed or abstained; every combination is tried (scopes are small)."""
    silent = [b for b in ballots if not b.takes_part]
    against = [b for b in ballots if b.takes_part and not b.agrees]
    must_silent = sum(1 for b in silent if b.flagged)
    must_against = sum(1 for b in against if b.flagged)
    total = len(ballots)
    took_part = len(ballots) - len(silent)
    agree = sum(1 for b in ballots if b.agrees)
    best: int | None = None
    for x in range(must_silent, len(silent) + 1):
        part = took_part + x
        if not reaches(Fraction(part), Fraction(total), spec.quorum, strict=False):
            continue
        y = must_against
        while y <= len(against) and not reaches(
            Fraction(agree + x + y), Fraction(part), spec.approval, strict=spec.strict
        ):
            y += 1
        if y <= len(against) and (best is None or x + y < best):
            best = x + y
    return best


def more_area_needed(ballots: Sequence[Ballot], spec: RuleSpec) -> Fraction | None:
    """Least agreeing floor area (m², over known areas) to add for the area tests to pass,
    counting flagged households' area as needed anyway; None when it cannot be reached.

    Continuous bound: with x m² coming from non-voters and y m² from opponents, the total
    x + y grows with x, so the least x that reaches the quorum (and leaves y within what the
    opponents hold) is best. For a strict rule the result is the amount to reach the share
    exactly; a little more is needed."""
    known = [b for b in ballots if b.area is not None]
    total = sum((_frac(b.area) for b in known), Fraction(0))
    part = sum((_frac(b.area) for b in known if b.takes_part), Fraction(0))
    agree = sum((_frac(b.area) for b in known if b.agrees), Fraction(0))
    silent = sum((_frac(b.area) for b in known if not b.takes_part), Fraction(0))
    against = part - agree
    must_silent = sum((_frac(b.area) for b in known if not b.takes_part and b.flagged), Fraction(0))
    must_against = sum(
        (_frac(b.area) for b in known if b.takes_part and not b.agrees and b.flagged), Fraction(0)
    )
    r = spec.approval
    x = max(must_silent, spec.quorum * total - part, Fraction(0))
    if r < 1:  # opponents can supply at most `against`: take more from non-voters if needed
        x = max(x, (r * part - agree - against) / (1 - r))
    y = max(must_against, r * (part + x) - agree - x, Fraction(0))
    if x > silent or y > against or total <= 0:
        return None
    return x + y


def evaluate(rule: ConsentRule, ballots: Sequence[Ballot]) -> Verdict:
    """Apply `rule` to the households' current ballots."""
    spec = RULES[rule]
    heads = _count(ballots, weight=False)
    area = _count(ballots, weight=True)
    unknown = tuple(b.room for b in ballots if b.area is None)
    quorum_heads = reaches(heads.participating, heads.total, spec.quorum, strict=False)
    approval_heads = reaches(heads.agreeing, heads.participating, spec.approval, strict=spec.strict)
    quorum_area: bool | None = None
    approval_area: bool | None = None
    if spec.uses_area and not unknown:
        quorum_area = reaches(area.participating, area.total, spec.quorum, strict=False)
        approval_area = reaches(
            area.agreeing, area.participating, spec.approval, strict=spec.strict
        )
    blocking = tuple(b.room for b in ballots if b.flagged and not b.agrees)
    passed = quorum_heads and approval_heads and not blocking
    if spec.uses_area:
        passed = passed and bool(quorum_area) and bool(approval_area)
    more_area: Decimal | None = None
    if spec.uses_area:
        gap = more_area_needed(ballots, spec)
        more_area = None if gap is None else _m2_up(gap)
    return Verdict(
        rule=rule,
        heads=heads,
        area=area,
        unknown_area_rooms=unknown,
        quorum_heads=quorum_heads,
        approval_heads=approval_heads,
        quorum_area=quorum_area,
        approval_area=approval_area,
        blocking_rooms=blocking,
        passed=passed,
        more_households=0 if passed else more_heads_needed(ballots, spec),
        more_area=Decimal(0) if passed and spec.uses_area else more_area,
    )


def _m2_up(value: Fraction) -> Decimal:
    """m², rounded up to the hundredth (never claim less is missing than is)."""
    hundredths = math.ceil(value * 100)
    return (Decimal(hundredths) / 100).quantize(Decimal("0.01"), rounding=ROUND_CEILING)


# --- the support rate over time -----------------------------------------------------------------


@dataclass(frozen=True)
class LoggedVote:
    at: datetime
    household_id: int
    choice: VoteChoice


@dataclass(frozen=True)
class SupportPoint:
    at: datetime
    heads: Fraction  # agreeing households / all households
    area: Fraction | None  # agreeing area / known area (None: no area known)


def support_series(
    areas: dict[int, Decimal | None], log: Iterable[LoggedVote], *, until: datetime
) -> list[SupportPoint]:
    """Replay the vote log up to `until`: the support rate after each vote. Denominators are
    the households of the campaign as it stands (`areas`: household id -> area)."""
    total = len(areas)
    known_area = sum((_frac(a) for a in areas.values() if a is not None), Fraction(0))
    current: dict[int, VoteChoice] = {}
    points: list[SupportPoint] = []
    for vote in sorted(log, key=lambda v: v.at):
        if vote.at > until or vote.household_id not in areas:
            continue
        current[vote.household_id] = vote.choice
        agreeing = [h for h, c in current.items() if c is VoteChoice.AGREE]
        agree_area = sum((_frac(areas[h]) for h in agreeing if areas[h] is not None), Fraction(0))
        points.append(
            SupportPoint(
                at=vote.at,
                heads=Fraction(len(agreeing), total) if total else Fraction(0),
                area=agree_area / known_area if known_area else None,
            )
        )
    return points


def may_change_vote(campaign: ConsentCampaign, now: datetime) -> bool:
    """Votes are taken, and may be changed, while the campaign is open."""
    return campaign.status == CampaignStatus.OPEN and (
        campaign.opened_at is None or campaign.opened_at <= now
    )
