"""Helpers for the e-signature tests: a sample agreement, a drawn signature, the whole flow."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from esign import (
    AgreementDocument,
    Party,
    Payment,
    SigningAuthority,
    certify,
    make_timestamper,
    party_field,
    render,
    seal,
    sign_as,
)

ORG = "北京市朝阳区人民调解委员会"
CST = datetime.timezone(datetime.timedelta(hours=8))


def sample_document(language: str = "zh-CN", terms: int = 6) -> AgreementDocument:
    zh = language == "zh-CN"
    return AgreementDocument(
        case_number="(2026)京0105民调123号",
        organisation=ORG,
        title="调解协议书" if zh else "Mediation Agreement",
        language="zh-CN" if zh else "en",
        parties=(
            Party("张三", "**************1234", "申请人" if zh else "Applicant"),
            Party("李四", "**************5678", "被申请人" if zh else "Respondent"),
        ),
        mediator="王五",
        recitals=(
            "申请人与被申请人因房屋租赁合同纠纷申请调解。"
            if zh
            else "The parties disagree about the rent of a flat.",
        ),
        terms=tuple(
            (
                f"第{i}项：被申请人于2027年1月{i}日前向申请人支付租金人民币一万二千元整，"
                "逾期未付的，按照全国银行间同业拆借中心公布的贷款市场报价利率支付利息。"
                if zh
                else f"Term {i}: the respondent pays the applicant CNY 12,000 of rent by "
                f"January {i}, 2027, with interest at the loan prime rate if late."
            )
            for i in range(1, terms + 1)
        ),
        payment=Payment(
            "12000.00",
            "CNY",
            "2027年1月31日前" if zh else "by 31 January 2027",
            "银行转账" if zh else "bank transfer",
        ),
        costs="本案调解不收取费用。" if zh else "The mediation is free of charge.",
        date=datetime.date(2026, 12, 7),
    )


def drawn_png(width: int = 400, height: int = 150) -> bytes:
    """A handwriting-like stroke on a transparent background, as signature_pad exports it."""
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.line(
        [(10, height - 40), (width // 4, 20), (width // 2, height - 30), (width - 10, 30)],
        fill=(10, 10, 60, 255),
        width=5,
    )
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


@dataclass
class Flow:
    authority: SigningAuthority
    certified: bytes
    after_party_1: bytes
    signed: bytes
    sealed: bytes


def run_flow(directory: Path, language: str = "zh-CN") -> Flow:
    """Render, certify, two parties sign (each with its own event certificate), seal."""
    authority = SigningAuthority.load_or_create(directory, organisation=ORG)
    ts = make_timestamper(authority)
    doc = sample_document(language)
    certified = certify(render(doc), authority, ts)
    pdf = certified
    stages = []
    for i, party in enumerate(doc.parties):
        cred = authority.issue_event_certificate(party.name, party.masked_id, f"identity:{i + 1}")
        pdf = sign_as(
            pdf, party_field(i), cred, drawn_png(), party.name, datetime.datetime.now(CST), ts
        )
        stages.append(pdf)
    return Flow(authority, certified, stages[0], pdf, seal(pdf, authority, ts))
