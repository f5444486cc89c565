"""Names of domain values as readers see them (msgids marked here, translated where shown)."""

from __future__ import annotations

from runtime.i18n import N_, Translator
from storage.models import (
    Channel,
    Difficulty,
    FollowUpResult,
    IssueStatus,
    Role,
    Satisfaction,
    Urgency,
)

ROLE_LABELS = {
    Role.SECRETARY: N_("community secretary"),
    Role.WORKER: N_("community worker"),
    Role.BUILDING_LEAD: N_("building lead"),
    Role.VOLUNTEER: N_("volunteer"),
    Role.RESIDENT: N_("resident"),
}

LANGUAGE_NAMES = {"zh_Hans": "中文（简体）", "en": "English"}  # each in its own language


def role_label(tr: Translator, role: str) -> str:
    return tr.gettext(ROLE_LABELS[Role(role)])


CATEGORY_LABELS = {
    "facilities": N_("Public facilities (stairwell lights, doors)"),
    "utilities": N_("Water, power, gas, heating"),
    "drains": N_("Blocked drains"),
    "property": N_("Property management"),
    "sanitation": N_("Cleanliness and rubbish"),
    "greenery": N_("Trees and green spaces"),
    "noise": N_("Noise"),
    "parking": N_("Parking"),
    "safety": N_("Safety and security"),
    "ebike_charging": N_("E-bikes charged in the building (fire risk)"),
    "neighbours": N_("Disputes between neighbours"),
    "illegal_building": N_("Illegal construction"),
    "elevator": N_("Adding an elevator"),
    "other": N_("Something else"),
    "civil_affairs": N_("Civil affairs (subsistence allowance, elderly, disability)"),
    "social_security": N_("Employment and social security"),
    "medical_insurance": N_("Medical insurance"),
    "family_health": N_("Birth registration and family health"),
    "housing": N_("Housing support"),
    "veterans": N_("Veterans' affairs"),
    "residence_permit": N_("Residence permit"),
    "labour_dispute": N_("Labour dispute mediation"),
}

STATUS_LABELS = {
    IssueStatus.NEW: N_("new"),
    IssueStatus.ACCEPTED: N_("accepted"),
    IssueStatus.ASSIGNED: N_("assigned"),
    IssueStatus.IN_PROGRESS: N_("in progress"),
    IssueStatus.TRANSFERRED: N_("transferred"),
    IssueStatus.RESOLVED: N_("resolved"),
    IssueStatus.CLOSED: N_("closed"),
    IssueStatus.MERGED: N_("merged"),
    IssueStatus.WITHDRAWN: N_("withdrawn"),
}

URGENCY_LABELS = {Urgency.EMERGENCY: N_("emergency"), Urgency.NORMAL: N_("normal")}

DIFFICULTY_LABELS = {
    Difficulty.ON_THE_SPOT: N_("on the spot"),
    Difficulty.COORDINATION: N_("needs coordination"),
    Difficulty.ESCALATE: N_("escalate to the street office"),
}

CHANNEL_LABELS = {
    Channel.TELEGRAM: N_("Telegram"),
    Channel.PHONE: N_("phone"),
    Channel.DESK: N_("service desk"),
    Channel.VISIT: N_("home visit"),
    Channel.MEETING: N_("courtyard meeting"),
}


def category_label(tr: Translator, category: str) -> str:
    return tr.gettext(CATEGORY_LABELS.get(category, CATEGORY_LABELS["other"]))


def status_label(tr: Translator, status: str) -> str:
    return tr.gettext(STATUS_LABELS[IssueStatus(status)])


def urgency_label(tr: Translator, urgency: str) -> str:
    return tr.gettext(URGENCY_LABELS[Urgency(urgency)])


def difficulty_label(tr: Translator, difficulty: str) -> str:
    return tr.gettext(DIFFICULTY_LABELS[Difficulty(difficulty)])


def channel_label(tr: Translator, channel: str) -> str:
    return tr.gettext(CHANNEL_LABELS[Channel(channel)])


FOLLOWUP_RESULT_LABELS = {
    FollowUpResult.SOLVED: N_("solved"),
    FollowUpResult.PARTLY: N_("partly solved"),
    FollowUpResult.NOT_SOLVED: N_("not solved"),
}

SATISFACTION_LABELS = {
    Satisfaction.SATISFIED: N_("satisfied"),
    Satisfaction.BASIC: N_("basically satisfied"),
    Satisfaction.DISSATISFIED: N_("dissatisfied"),
}


def followup_result_label(tr: Translator, result: str) -> str:
    return tr.gettext(FOLLOWUP_RESULT_LABELS[FollowUpResult(result)])


def satisfaction_label(tr: Translator, satisfaction: str | None) -> str:
    return tr.gettext(SATISFACTION_LABELS[Satisfaction(satisfaction)]) if satisfaction else ""
