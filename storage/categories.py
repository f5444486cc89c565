"""What residents report: the categories, and the time limit each one promises.

The keys are stored on issues; labels are translated in handlers/shared/labels.py. Time limits
follow the Beijing 12345 service standard (DOMAIN.md): emergencies 2 h; water, power, gas, heating
24 h; general matters 7 days; complex matters 15 days. Every figure is a configurable default.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LimitClass(StrEnum):
    EMERGENCY = "emergency"
    UTILITIES = "utilities"
    GENERAL = "general"
    COMPLEX = "complex"


@dataclass(frozen=True)
class TimeLimits:
    """Hours promised for a first answer, by class (configurable per deployment)."""

    emergency: int = 2
    utilities: int = 24
    general: int = 7 * 24
    complex: int = 15 * 24

    def hours(self, limit_class: LimitClass) -> int:
        return int(getattr(self, limit_class.value))


# Community problems (常见投诉) first, then the one-stop desk's services (百通岗).
COMMUNITY_CATEGORIES: dict[str, LimitClass] = {
    "facilities": LimitClass.GENERAL,  # 公共设施：楼道灯、门禁、健身器材
    "utilities": LimitClass.UTILITIES,  # 水电气暖
    "drains": LimitClass.UTILITIES,  # 下水道堵塞
    "property": LimitClass.GENERAL,  # 物业服务
    "sanitation": LimitClass.GENERAL,  # 环境卫生
    "greenery": LimitClass.GENERAL,  # 绿化
    "noise": LimitClass.GENERAL,  # 噪音扰民
    "parking": LimitClass.GENERAL,  # 停车 / 乱停放
    "safety": LimitClass.GENERAL,  # 治安
    "neighbours": LimitClass.COMPLEX,  # 邻里纠纷
    "illegal_building": LimitClass.COMPLEX,  # 违建
    "elevator": LimitClass.COMPLEX,  # 加装电梯
    "other": LimitClass.GENERAL,
}
DESK_CATEGORIES: dict[str, LimitClass] = {
    "civil_affairs": LimitClass.GENERAL,  # 民政：低保、特困、高龄补贴、残疾人
    "social_security": LimitClass.GENERAL,  # 人社：就业失业登记、退休、养老保险认证、社保卡
    "medical_insurance": LimitClass.GENERAL,  # 医保参保缴费
    "family_health": LimitClass.GENERAL,  # 卫健 / 计生：生育登记
    "housing": LimitClass.GENERAL,  # 住房保障
    "veterans": LimitClass.GENERAL,  # 退役军人
    "residence_permit": LimitClass.GENERAL,  # 居住证
    "labour_dispute": LimitClass.COMPLEX,  # 劳动争议调解
}
CATEGORIES: dict[str, LimitClass] = {**COMMUNITY_CATEGORIES, **DESK_CATEGORIES}


def limit_class(category: str, *, emergency: bool) -> LimitClass:
    if emergency:
        return LimitClass.EMERGENCY
    return CATEGORIES.get(category, LimitClass.GENERAL)


def time_limit_hours(category: str, *, emergency: bool, limits: TimeLimits) -> int:
    return limits.hours(limit_class(category, emergency=emergency))
