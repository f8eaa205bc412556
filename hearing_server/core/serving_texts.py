"""What electronic service says, in Chinese and English: the message with the tracking link,
and the tracking page's words. Chinese text, with full-width punctuation on purpose."""

from __future__ import annotations


def service_message(
    *, court: str, case_number: str, recipient: str, title: str, link: str, until: str
) -> tuple[str, str]:
    """The subject and text of the message that serves a document (both languages; the
    link's expiry ``until`` names its time zone)."""
    subject = f"{court} 送达：{title}"
    text = (
        f"【{court}】{recipient}：您有一份法律文书《{title}》（案号 {case_number}）待签收。"
        f"请打开链接查看并确认收到：{link} 链接有效期至 {until}。\n"
        f"{court}: a court document ({title}, case {case_number}) has been served on you. "
        f"Open it and confirm receipt: {link} (valid until {until})."
    )
    return subject, text


def reminder_message(
    *,
    court: str,
    case_number: str,
    recipient: str,
    title: str,
    when: str,
    hours: int,
    link: str,
    calendar: str,
) -> tuple[str, str]:
    """The subject and text of a reminder ``hours`` before the hearing; ``when`` names the
    court's time zone."""
    subject = f"{court} 开庭提醒：{when}"
    text = (
        f"【{court}】{recipient}：案号 {case_number}《{title}》定于 {when} 开庭，"
        f"距开庭约{hours}小时。文书与确认：{link} 日历文件：{calendar}\n"
        f"{court}: reminder, case {case_number} ({title}) is heard at {when}, in about "
        f"{hours} h. Documents: {link} Calendar file: {calendar}"
    )
    return subject, text


def rescheduled_message(
    *,
    court: str,
    case_number: str,
    recipient: str,
    when: str,
    link: str,
    calendar: str,
    courtroom: str | None = None,
    reason: str | None = None,
) -> tuple[str, str]:
    """The subject and text of the notice that the hearing's time (or courtroom) changed,
    with the reason when the court gave one."""
    subject = f"{court} 开庭时间变更：{when}"
    room_zh = f"，地点 {courtroom}" if courtroom else ""
    room_en = f", in {courtroom}" if courtroom else ""
    why_zh = f"变更原因：{reason}。" if reason else ""
    why_en = f" Reason: {reason}." if reason else ""
    text = (
        f"【{court}】{recipient}：案号 {case_number} 的开庭时间已变更为 {when}{room_zh}。"
        f"{why_zh}文书与确认：{link} 新的日历文件：{calendar}\n"
        f"{court}: the hearing of case {case_number} has been moved to {when}{room_en}."
        f"{why_en} Documents: {link} New calendar file: {calendar}"
    )
    return subject, text


def cancelled_message(
    *, court: str, case_number: str, recipient: str, when: str, reason: str, link: str
) -> tuple[str, str]:
    """The subject and text of the notice that the hearing of ``when`` will not sit."""
    subject = f"{court} 取消开庭：{when}"
    why_zh = f"原因：{reason}。" if reason else ""
    why_en = f" Reason: {reason}." if reason else ""
    text = (
        f"【{court}】{recipient}：案号 {case_number} 原定于 {when} 的开庭已取消。{why_zh}"
        f"详情：{link}\n"
        f"{court}: the hearing of case {case_number} set for {when} is cancelled.{why_en} "
        f"Details: {link}"
    )
    return subject, text


PAGE: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "电子送达",
        "served_on": "受送达人",
        "document": "文书",
        "case": "案号",
        "court": "法院",
        "sha256": "文书摘要 (SHA-256)",
        "open_document": "查看文书 (PDF)",
        "confirm": "我确认已收到",
        "confirmed": "您已确认收到，谢谢。",
        "confirmed_at": "确认时间",
        "valid_until": "链接有效期至",
        "expired": "此链接已过期，请与法院联系。",
        "not_found": "链接无效。",
        "hearing_at": "开庭时间",
        "calendar": "加入日历 (.ics)",
    },
    "en": {
        "title": "Electronic service",
        "served_on": "Served on",
        "document": "Document",
        "case": "Case",
        "court": "Court",
        "sha256": "Document digest (SHA-256)",
        "open_document": "Open the document (PDF)",
        "confirm": "I confirm receipt",
        "confirmed": "You have confirmed receipt. Thank you.",
        "confirmed_at": "Confirmed at",
        "valid_until": "This link is valid until",
        "expired": "This link has expired; please contact the court.",
        "not_found": "This link is not valid.",
        "hearing_at": "Hearing",
        "calendar": "Add to calendar (.ics)",
    },
}
