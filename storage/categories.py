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
    FIRE_HAZARD = "fire_hazard"  # a fire waiting to happen: e-bikes charged in the stairwell
    UTILITIES = "utilities"
    GENERAL = "general"
    COMPLEX = "complex"


@dataclass(frozen=True)
class TimeLimits:
    """Hours promised for a first answer, by class (configurable per deployment)."""

    emergency: int = 2
    fire_hazard: int = 24
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
    "ebike_charging": LimitClass.FIRE_HAZARD,  # 电瓶车进楼充电、楼道飞线充电：消防隐患
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


# Words that suggest a category, first match wins (the resident still chooses: it is offered
# first, marked). Chinese anywhere in the text; English as it is written, lower case.
SUGGESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ebike_charging", ("电瓶车", "电动车", "飞线", "充电", "e-bike", "ebike", "charging")),
    ("drains", ("下水", "堵", "马桶", "化粪池", "drain", "sewage", "toilet", "blocked")),
    (
        "utilities",
        (
            "停水",
            "停电",
            "没水",
            "没电",
            "燃气",
            "煤气",
            "暖气",
            "水管",
            "漏水",
            "water",
            "power",
            "gas",
            "heating",
            "leak",
        ),
    ),
    ("elevator", ("加装电梯", "elevator", "lift")),
    ("noise", ("噪音", "吵", "广场舞", "装修声", "noise", "noisy", "loud", "karaoke")),
    ("parking", ("停车", "车位", "占道", "消防通道", "parking", "parked", "fire lane")),
    ("sanitation", ("垃圾", "卫生", "臭", "老鼠", "蟑螂", "rubbish", "garbage", "trash", "smell")),
    ("greenery", ("树", "草坪", "绿化", "tree", "grass", "branches")),
    ("illegal_building", ("违建", "违章", "搭建", "illegal")),
    ("neighbours", ("邻居", "吵架", "纠纷", "neighbour", "neighbor", "dispute")),
    ("safety", ("小偷", "被偷", "治安", "陌生人", "thief", "stolen", "burglar")),
    ("facilities", ("灯", "门禁", "单元门", "健身器材", "长椅", "light", "door", "bench")),
    ("property", ("物业", "保安", "property management")),
)


def suggest_category(text: str | None) -> str | None:
    """The category a report's words point to, or None."""
    words = (text or "").lower()
    for category, signs in SUGGESTIONS:
        if any(sign in words for sign in signs):
            return category
    return None


def limit_class(category: str, *, emergency: bool) -> LimitClass:
    if emergency:
        return LimitClass.EMERGENCY
    return CATEGORIES.get(category, LimitClass.GENERAL)


def time_limit_hours(category: str, *, emergency: bool, limits: TimeLimits) -> int:
    return limits.hours(limit_class(category, emergency=emergency))
