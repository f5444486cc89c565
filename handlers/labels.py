"""Names of domain values as readers see them (msgids marked here, translated where shown)."""

from __future__ import annotations

from bot.i18n import N_, Translator
from storage.models import Role

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
