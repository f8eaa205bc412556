"""Agreement benchmark: render, certify, per-party signing, seal and verify times; PDF sizes.

    python -m bench.esign.run [--parties 2] [--terms 20] [--runs 3] [--language zh-CN]

Everything runs in-process with the embedded authority and time-stamp responder (no network).
Prints one table: the median of ``--runs`` runs per step, and the PDF size after it.
"""

from __future__ import annotations

import argparse
import datetime
import io
import statistics
import tempfile
import time
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
    verify,
)

CST = datetime.timezone(datetime.timedelta(hours=8))


def drawn_png() -> bytes:
    """A 600x200 stroke like signature_pad's export (transparent background)."""
    img = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    ImageDraw.Draw(img).line(
        [(20, 150), (150, 30), (300, 170), (450, 40), (580, 120)], fill=(0, 0, 0, 255), width=6
    )
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def document(parties: int, terms: int, language: str) -> AgreementDocument:
    return AgreementDocument(
        case_number="(2026)京0105民调123号",
        organisation="北京市朝阳区人民调解委员会",
        title="调解协议书",
        language="zh-CN" if language == "zh-CN" else "en",
        parties=tuple(
            Party(f"当事人{i + 1}", f"**************{1000 + i}", "申请人" if i == 0 else "被申请人")
            for i in range(parties)
        ),
        mediator="王五",
        recitals=("双方因买卖合同纠纷申请调解。",),
        terms=tuple(
            f"被申请人于2027年1月{i % 28 + 1}日前向申请人支付货款人民币一万元整，"
            "逾期按日万分之五支付违约金。"
            for i in range(terms)
        ),
        payment=Payment("10000.00", "CNY", "2027年1月31日前", "银行转账"),
        costs="调解不收费。",
        date=datetime.date(2026, 12, 7),
    )


def one_run(
    directory: Path, parties: int, terms: int, language: str
) -> list[tuple[str, float, int]]:
    rows: list[tuple[str, float, int]] = []
    t0 = time.perf_counter()
    authority = SigningAuthority.load_or_create(directory)
    rows.append(("authority (first run)", time.perf_counter() - t0, 0))
    ts = make_timestamper(authority)
    doc = document(parties, terms, language)
    t0 = time.perf_counter()
    rendered = render(doc)
    rows.append(
        (f"render ({rendered.page_count} pages)", time.perf_counter() - t0, len(rendered.pdf))
    )
    t0 = time.perf_counter()
    pdf = certify(rendered, authority, ts)
    rows.append(("certify (org, DocMDP 2)", time.perf_counter() - t0, len(pdf)))
    png = drawn_png()
    for i, party in enumerate(doc.parties):
        t0 = time.perf_counter()
        cred = authority.issue_event_certificate(party.name, party.masked_id, f"id:{i}")
        pdf = sign_as(pdf, party_field(i), cred, png, party.name, datetime.datetime.now(CST), ts)
        rows.append((f"event cert + sign party {i + 1}", time.perf_counter() - t0, len(pdf)))
    t0 = time.perf_counter()
    pdf = seal(pdf, authority, ts)
    rows.append(("seal (org, lock)", time.perf_counter() - t0, len(pdf)))
    t0 = time.perf_counter()
    report = verify(pdf, [authority.ca_cert])
    assert report.verdict == "valid", report.to_json()
    rows.append(("verify (all signatures)", time.perf_counter() - t0, len(pdf)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parties", type=int, default=2)
    parser.add_argument("--terms", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--language", default="zh-CN")
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_run(Path(tmp) / "auth", args.parties, args.terms, args.language))
    print(
        f"{'step':32} {'median s':>9} {'PDF bytes':>10}   ({args.runs} runs, "
        f"{args.parties} parties, {args.terms} terms, {args.language})"
    )
    for i, (name, _, size) in enumerate(runs[0]):
        median = statistics.median(r[i][1] for r in runs)
        print(f"{name:32} {median:9.3f} {size or '':>10}")


if __name__ == "__main__":
    main()
