"""The status pages' words in the UI's two languages, and which one a visitor gets.

The browser's first language Heron speaks wins (``Accept-Language``), else the site's
``language`` setting, else English, the same order the single-page UI follows.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh-CN")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "all_up": "All systems operational",
        "some_down": "{down} of {total} servers offline",
        "none": "No servers are listed on this page yet.",
        "online": "Online",
        "offline": "Offline",
        "uptime_90": "{percent}% uptime over 90 days",
        "no_data": "no data",
        "day_tip": "{day}: {percent}% up",
        "day_tip_none": "{day}: no data",
        "days_ago": "90 days ago",
        "today": "Today",
        "incidents": "Recent incidents",
        "no_incidents": "No incidents in the last 90 days.",
        "offline_for": "offline for {minutes} min",
        "still_offline": "still offline",
        "updated": "Updated",
        "last_seen": "last seen",
        "servers": "Servers",
        "powered": "Powered by Heron",
        "login_required": "This site asks visitors to log in before they see its status.",
        "log_in": "Log in",
        "status": "Status",
    },
    "zh-CN": {
        "all_up": "所有系统运行正常",
        "some_down": "{total} 台服务器中有 {down} 台离线",
        "none": "此页面尚未列出任何服务器。",
        "online": "在线",
        "offline": "离线",
        "uptime_90": "90 天可用率 {percent}%",
        "no_data": "无数据",
        "day_tip": "{day}：可用 {percent}%",
        "day_tip_none": "{day}：无数据",
        "days_ago": "90 天前",
        "today": "今天",
        "incidents": "近期事件",
        "no_incidents": "过去 90 天没有事件。",
        "offline_for": "离线 {minutes} 分钟",
        "still_offline": "仍然离线",
        "updated": "更新于",
        "last_seen": "最后在线",
        "servers": "服务器",
        "powered": "由 Heron 提供",
        "login_required": "此站点要求访客登录后才能查看状态。",
        "log_in": "登录",
        "status": "状态",
    },
}


def _match(tag: str) -> str | None:
    tag = tag.strip().lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def language_of(site_language: str, accept_language: str) -> str:
    """The language to answer in: the browser's first known one, else the site's, else English."""
    weighted = []
    for i, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        weighted.append((-q, i, tag))
    for _q, _i, tag in sorted(weighted):
        found = _match(tag)
        if found:
            return found
    return _match(site_language) or "en"
