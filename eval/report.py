"""Human-readable evaluation reports: a Markdown summary and a self-contained HTML page.

The HTML has no external assets: bars are inline SVG, styles inline.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eval.harness import EvalRun

# metrics where lower is better (counts and times)
LOWER_IS_BETTER = {
    "forbidden_statements",
    "unsupported_statements",
    "cross_case_leakage",
    "wrong_approval",
    "mid_word_cuts",
    "duplicate_statements",
    "off_topic_citations",
    "verbless_sentences",
    "latency_s",
    "latency_median_s",
}
# metrics that describe a draft without a better direction (eval/quality.py): shown, never marked
DESCRIPTIVE = {"verdict_words", "verdict_sentences", "verdict_flesch", "latency_s", "latency_median_s"}
QUALITY = ("mid_word_cuts", "duplicate_statements", "off_topic_citations", "verbless_sentences")


def _fmt(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def markdown_summary(run: EvalRun, failures: list[str]) -> str:
    means = run.means()
    info = run.info
    lines = [
        "# meddraft evaluation",
        "",
        f"{info['cases']} gold cases · generator `{info['generator']}`"
        + (f" · model `{info['model']}`" if info.get("model") else "")
        + f" · embedding `{info['embedding_model']}` · corpus `{info['corpus_hash']}`"
        + f" · settings `{info['settings_hash']}` · {info['created_at']}",
        "",
        "**Gate: PASS**" if not failures else f"**Gate: FAIL** ({len(failures)})",
        "",
    ]
    lines += [f"- {f}" for f in failures]
    lines += ["", "## Means", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {_fmt(value)} |" for name, value in means.items()]
    names = list(dict.fromkeys(m.name for c in run.cases for m in c.metrics))
    lines += [
        "",
        "## Per case",
        "",
        "| case | expected | got | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for case in run.cases:
        values = [_fmt(v) if (v := case.value(n)) is not None else "" for n in names]
        lines.append(
            f"| {case.gold.case_id} | {case.gold.expected_verdict} | {case.verdict or case.error} | "
            + " | ".join(values)
            + " |"
        )
    reasons = [(c.gold.case_id, m) for c in run.cases for m in c.metrics if _is_bad(m.name, m.value)]
    if reasons:
        lines += ["", "## Why", ""]
        lines += [f"- {case}: {m.name} = {_fmt(m.value)}: {m.reason}" for case, m in reasons]
    return "\n".join(lines) + "\n"


def _is_bad(name: str, value: float) -> bool:
    if name in DESCRIPTIVE:
        return False
    return value > 0 if name in LOWER_IS_BETTER else value < 1


def _bar_chart(values: dict[str, float], width: int = 560) -> str:
    rows = [(k, v) for k, v in values.items() if k not in LOWER_IS_BETTER | DESCRIPTIVE and 0 <= v <= 1]
    height = 24 * len(rows) + 10
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="metric means">']
    for i, (name, value) in enumerate(rows):
        y = 5 + 24 * i
        bar = int((width - 260) * value)
        color = "#2e7d32" if value >= 0.95 else "#f9a825" if value >= 0.8 else "#c62828"
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{html.escape(name)}</text>')
        parts.append(f'<rect x="190" y="{y + 3}" width="{bar}" height="16" fill="{color}"/>')
        parts.append(f'<text x="{195 + bar}" y="{y + 15}" font-size="12">{value:.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def html_report(run: EvalRun, failures: list[str], retrieval: dict | None = None) -> str:
    means = run.means()
    names = list(dict.fromkeys(m.name for c in run.cases for m in c.metrics))
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for case in run.cases:
        cells = []
        for n in names:
            metric = next((m for m in case.metrics if m.name == n), None)
            if metric is None:
                cells.append("<td></td>")
                continue
            cls = "" if n in DESCRIPTIVE else "bad" if _is_bad(n, metric.value) else "ok"
            cells.append(f'<td class="{cls}" title="{html.escape(metric.reason)}">{_fmt(metric.value)}</td>')
        verdict_cls = "ok" if case.verdict == case.gold.expected_verdict else "bad"
        rows.append(
            f"<tr><td>{html.escape(case.gold.case_id)}</td><td>{case.gold.expected_verdict}</td>"
            f'<td class="{verdict_cls}">{html.escape(case.verdict or str(case.error))}</td>'
            f"{''.join(cells)}</tr>"
        )
    gate = (
        '<p class="pass">Gate: PASS</p>'
        if not failures
        else '<p class="fail">Gate: FAIL</p><ul>'
        + "".join(f"<li>{html.escape(f)}</li>" for f in failures)
        + "</ul>"
    )
    retrieval_html = ""
    if retrieval:
        retrieval_html = "<h2>Retrieval</h2>" + "".join(
            f"<h3>{html.escape(mode)}</h3>{_bar_chart(vals)}"
            for mode, vals in retrieval.items()
            if isinstance(vals, dict) and "ndcg@10" in vals
        )
    info = html.escape(json.dumps({k: v for k, v in run.info.items() if k != "means"}, indent=1))
    quality = " · ".join(
        f"{html.escape(n.replace('_', ' '))} {_fmt(means[n])}"
        for n in (*QUALITY, "verdict_words", "verdict_sentences", "verdict_flesch")
        if n in means
    )
    quality = f"<p>draft quality, means per case: {quality}</p>" if quality else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>meddraft evaluation</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border: 1px solid #ccc; padding: 3px 6px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
td.ok {{ background: #e8f5e9; }} td.bad {{ background: #ffebee; }}
.pass {{ color: #2e7d32; font-weight: bold; }} .fail {{ color: #c62828; font-weight: bold; }}
pre {{ background: #f6f6f6; padding: 8px; }}
</style></head><body>
<h1>meddraft evaluation</h1>
{gate}
<h2>Means</h2>
{_bar_chart(means)}
<p>latency median {means.get("latency_median_s", 0):.2f} s · unsupported statements per case
{means.get("unsupported_statements", 0):.2f} · cross-case leakage {means.get("cross_case_leakage", 0):g}</p>
{quality}
<h2>Per case</h2>
<table><tr><th>case</th><th>expected</th><th>got</th>{head}</tr>{"".join(rows)}</table>
{retrieval_html}
<h2>Run</h2><pre>{info}</pre>
</body></html>
"""


def _curves(result: dict, width: int = 520, height: int = 260) -> str:
    """Recall@k curves per retrieval mode, the k values evenly spaced (inline SVG)."""
    colors = {"dense": "#1565c0", "bm25": "#ef6c00", "hybrid": "#2e7d32"}
    ks = sorted(
        {int(k.split("@")[1]) for mode in colors for k in result.get(mode, {}) if k.startswith("recall@")}
    )
    if not ks:
        return ""
    x = {k: 40 + i * (width - 60) / max(1, len(ks) - 1) for i, k in enumerate(ks)}
    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="recall at k">',
        f'<line x1="40" y1="{height - 30}" x2="{width - 20}" y2="{height - 30}" stroke="#999"/>',
    ]
    for k in ks:
        parts.append(f'<text x="{x[k] - 6}" y="{height - 12}" font-size="11">{k}</text>')
    for i, (mode, color) in enumerate(colors.items()):
        values = result.get(mode, {})
        points = [(x[k], 10 + (height - 40) * (1 - values.get(f"recall@{k}", 0))) for k in ks]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        parts.append(
            f'<text x="{width - 90}" y="{height - 60 + 14 * i}" font-size="12" fill="{color}">{mode}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def write_retrieval_report(result: dict, out_dir) -> str:
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "retrieval.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    modes = [m for m in ("dense", "bm25", "hybrid") if m in result]
    wanted = ("ndcg@10", "recall@10", "recall@100", "mrr")
    metrics = [k for k in wanted if k in result[modes[0]]]
    rows = "".join(
        f"<tr><td>{m}</td>" + "".join(f"<td>{result[m][k]:.4f}</td>" for k in metrics) + "</tr>"
        for m in modes
    )
    name = html.escape(str(result.get("dataset", "retrieval")))
    head = "".join(f"<th>{html.escape(k)}</th>" for k in metrics)
    bars = "".join(f"<h3>{m}</h3>{_bar_chart(result[m])}" for m in modes)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{name} retrieval</title>
<style>body {{ font: 14px system-ui, sans-serif; margin: 2rem; }} td, th {{ border: 1px solid #ccc;
padding: 3px 8px; }} table {{ border-collapse: collapse; }}</style></head><body>
<h1>Retrieval: {name}</h1><p>{result.get("queries")} queries, {result.get("docs")} documents,
{result.get("seconds")} s</p>
<table><tr><th>mode</th>{head}</tr>{rows}</table>
<h2>Recall@k</h2>{_curves(result)}
<h2>All metrics</h2>{bars}
</body></html>
"""
    (out / "report.html").write_text(page, encoding="utf-8")
    return str(out)


def write_reports(run: EvalRun, out_dir: Path | str, failures: list[str] | None = None) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for case in run.cases:
            for m in case.metrics:
                fh.write(
                    json.dumps(
                        {
                            "case_id": case.gold.case_id,
                            "gold_id": case.gold.id,
                            "verdict": case.verdict,
                            **m.model_dump(),
                        }
                    )
                    + "\n"
                )
    (out / "run.json").write_text(
        json.dumps({**run.info, "failures": failures or []}, indent=2), encoding="utf-8"
    )
    (out / "summary.md").write_text(markdown_summary(run, failures or []), encoding="utf-8")
    (out / "report.html").write_text(html_report(run, failures or []), encoding="utf-8")
    return out
