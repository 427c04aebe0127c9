"""The HTML report: one self-contained file (inline CSS, inline SVG), no scripts, no external assets.

Everything from the data is escaped: answers are model output and may contain markup.
"""

from __future__ import annotations

from html import escape
from typing import Any, Mapping, Sequence

from tuneui.core.metrics import METRIC_TITLES
from tuneui.steps.report.people import people_html
from tuneui.steps.report.inputs import FINDINGS_SHOWN, DataCheck, LossPoint, ReportInputs, facts, metric_rows, rule_rows, rules_broken

CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232b;margin:0;background:#f6f7f9}
main{max-width:1080px;margin:0 auto;padding:28px 32px 48px}
h1{font-size:24px;margin:0 0 6px}h2{font-size:18px;margin:30px 0 10px;border-bottom:1px solid #dde1e6;padding-bottom:4px}
.verdict{font-size:18px;padding:14px 18px;border-radius:8px;margin:16px 0;border-left:6px solid}
.win{background:#e7f6ec;border-color:#2d9d57}.lose{background:#fdeceb;border-color:#cf3b2f}.even{background:#fff6df;border-color:#d49b16}
table{border-collapse:collapse;width:100%;background:#fff;font-size:14px}
th,td{border:1px solid #dde1e6;padding:6px 9px;text-align:left;vertical-align:top}
th{background:#eef1f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{font-weight:600}.facts td:first-child{width:190px;color:#56606b}
pre{white-space:pre-wrap;word-break:break-word;margin:0;font:13px/1.45 ui-monospace,Menlo,Consolas,monospace}
.ok{color:#2d9d57}.miss{color:#cf3b2f}.muted{color:#66707b}
svg text{font:12px system-ui,sans-serif;fill:#56606b}
"""

_CHART_W, _CHART_H, _PAD_L, _PAD_R, _PAD_T, _PAD_B = 720, 260, 56, 16, 14, 34


def render_html(inputs: ReportInputs) -> str:
    result = inputs.result
    parts = [
        f"<h1>{escape(inputs.project)}: run {escape(inputs.run_id)}</h1>",
        f'<div class="verdict {_tone(result)}">{escape(result["verdict"])}</div>',
        _table([], [[escape(k), escape(v)] for k, v in facts(inputs)], css="facts"),
        "<h2>Metrics on the validation split</h2>",
        _metrics_table(result),
        f'<p class="muted">{_difference_sentence(result)}</p>',
        _rules(result),
        _judge(result),
        people_html(inputs, _table),
        _leaderboard(inputs),
        "<h2>Training</h2>",
        loss_chart_svg(inputs.losses),
        _data_checks(inputs.data_checks),
        _differing(result.get("differing", [])),
        _forgetting(result.get("forgetting")),
        "<h2>Files</h2><ul>"
        + "".join(f'<li><a href="{escape(href)}">{escape(label)}</a></li>' for label, href in inputs.links)
        + "</ul>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(inputs.project)}: run {escape(inputs.run_id)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(parts)}</main></body></html>\n"
    )


def loss_chart_svg(points: Sequence[LossPoint]) -> str:
    """Train and validation loss against step, as inline SVG (no script, no font download)."""
    train = [(p.step, p.train) for p in points if p.train is not None]
    valid = [(p.step, p.valid) for p in points if p.valid is not None]
    if not train and not valid:
        return '<p class="muted">No loss was recorded for this run.</p>'
    steps = [s for s, _ in train + valid]
    losses = [v for _, v in train + valid]
    x0, x1 = min(steps), max(steps)
    y0, y1 = min(losses), max(losses)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    inner_w, inner_h = _CHART_W - _PAD_L - _PAD_R, _CHART_H - _PAD_T - _PAD_B

    def x(step: float) -> float:
        return _PAD_L + (step - x0) / (x1 - x0) * inner_w

    def y(loss: float) -> float:
        return _PAD_T + (y1 - loss) / (y1 - y0) * inner_h

    grid = []
    for i in range(5):
        value = y0 + (y1 - y0) * i / 4
        grid.append(
            f'<line x1="{_PAD_L}" x2="{_CHART_W - _PAD_R}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e3e6ea"/>'
            f'<text x="{_PAD_L - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.3g}</text>'
        )
    for step in sorted({x0, (x0 + x1) // 2, x1}):
        grid.append(f'<text x="{x(step):.1f}" y="{_CHART_H - 14}" text-anchor="middle">{step}</text>')
    series = []
    for label, data, color in (("train loss", train, "#2f6fd0"), ("validation loss", valid, "#e07b18")):
        if not data:
            continue
        path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in data)
        series.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        series += [f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"/>' for s, v in data if len(data) < 60]
    legend = (
        f'<text x="{_CHART_W - _PAD_R - 190}" y="{_PAD_T + 14}" style="fill:#2f6fd0">train loss</text>'
        f'<text x="{_CHART_W - _PAD_R - 108}" y="{_PAD_T + 14}" style="fill:#e07b18">validation loss</text>'
        f'<text x="{_CHART_W / 2:.0f}" y="{_CHART_H - 1}" text-anchor="middle">step</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="loss curves" '
        f'viewBox="0 0 {_CHART_W} {_CHART_H}" width="{_CHART_W}" height="{_CHART_H}" style="background:#fff">'
        f"{''.join(grid)}{''.join(series)}{legend}</svg>"
    )


def _tone(result: Mapping[str, Any]) -> str:
    verdict = result["verdict"]
    if verdict.startswith("tuned beats"):
        return "win"
    return "even" if verdict.startswith("no clear difference") else "lose"


def _metrics_table(result: Mapping[str, Any]) -> str:
    header, rows = metric_rows(result)
    best_column = next((i for i, h in enumerate(header) if h.endswith("(baseline to beat)")), None)
    body = []
    for row in rows:
        cells = [f"<td>{escape(row[0])}</td>"]
        for i, value in enumerate(row[1:], start=1):
            css = "num best" if i in (best_column, len(row) - 1) else "num"
            cells.append(f'<td class="{css}">{escape(value)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _difference_sentence(result: Mapping[str, Any]) -> str:
    metric = METRIC_TITLES.get(result["primary_metric"], result["primary_metric"])
    lo, hi = result["difference_ci95"]
    return escape(
        f"Paired difference in {metric} (tuned - baseline): {result['difference']:+.3f}, "
        f"95 % bootstrap interval [{lo:+.3f}, {hi:+.3f}] over {result['examples']} examples."
    )


def _rules(result: Mapping[str, Any]) -> str:
    table = rule_rows(result)
    if table is None:
        return ""
    header, rows = table
    note = '<p class="muted">Answers that pass each rule of tuneui.toml [rules].</p>'
    return "<h2>Task rules on the validation split</h2>" + _table(header, [[escape(c) for c in row] for row in rows]) + note


def _judge(result: Mapping[str, Any]) -> str:
    judge = result.get("judge")
    if not judge:
        return '<p class="muted">No LLM judge was asked; the verdict rests on the primary metric.</p>'
    unparsed = (result.get("judge_detail") or {}).get("unparsed", 0)
    header = ["judge", "wins", "ties", "losses", "win rate", "95 % interval", "unreadable replies"]
    row = [judge["model"], judge["wins"], judge["ties"], judge["losses"], f"{judge['win_rate']:.2f}",
           f"[{judge['ci95'][0]:.2f}, {judge['ci95'][1]:.2f}]", unparsed]
    note = '<p class="muted">Each example is judged twice, answers swapped; a tie counts half a win.</p>'
    return "<h2>LLM judge</h2>" + _table(header, [[escape(str(c)) for c in row]]) + note


def _data_checks(checks: Sequence[DataCheck]) -> str:
    if not checks:
        return ""
    rows = []
    for item in checks:
        shown = (item.errors + item.warnings)[:FINDINGS_SHOWN]
        findings = "<br>".join(
            escape(f"{'line ' + str(f['line']) if f.get('line') else 'file'}: {f['code']}: {f['message']}") for f in shown
        )
        rows.append([escape(item.file), str(item.examples), str(len(item.errors)), str(len(item.warnings)), findings or "-"])
    note = '<p class="muted">Run <code>tuneui data check FILE</code> to see every finding with its fix.</p>'
    return "<h2>Data checks</h2>" + _table(["file", "examples", "errors", "warnings", "first findings"], rows) + note


def _differing(rows: Sequence[Mapping[str, Any]]) -> str:
    out = ["<h2>Where they differ most</h2>"]
    if not rows:
        return out[0] + '<p class="muted">The two models gave the same answers.</p>'
    with_rules = any(rules_broken(r) for r in rows)
    header = ["val line", "request", "reference", "baseline", "tuned", "gap", "judge"] + (["rules broken"] if with_rules else [])
    body = [
        [escape(str(r.get("line") or "-"))]
        + [f"<pre>{escape(str(r[k]))}</pre>" for k in ("request", "reference", "baseline", "tuned")]
        + [escape(f"{r['gap']:+.2f}"), escape(str(r.get("judge") or "-"))]
        + ([escape(rules_broken(r) or "-")] if with_rules else [])
        for r in rows
    ]
    return out[0] + _table(header, body)


def _forgetting(check: Mapping[str, Any] | None) -> str:
    if not check:
        return ""
    summary = (
        f"Known answers named: base {check['base_correct']}/{check['checked']}, "
        f"tuned {check['tuned_correct']}/{check['checked']}."
    )
    body = [
        [f"<pre>{escape(i['prompt'])}</pre>", _answer(i["base"], i["base_ok"]), _answer(i["tuned"], i["tuned_ok"])]
        for i in check["items"]
    ]
    return (
        "<h2>Forgetting check: general prompts</h2>"
        f'<p class="muted">{escape(summary)}</p>' + _table(["prompt", "base model", "tuned model"], body)
    )


def _leaderboard(inputs: ReportInputs) -> str:
    from tuneui.steps.leaderboard import CELL_HEADER, cells

    board = inputs.leaderboard
    if board is None:
        return ""
    metric = METRIC_TITLES.get(board.metric, board.metric)
    return (
        "<h2>Comparing base models</h2>"
        f'<p class="muted">Primary metric: {escape(metric)}, each against the best baseline on the same examples; '
        "runs on another split are listed, never ranked.</p>"
        + _table(CELL_HEADER, [[escape(c) for c in row] for row in cells(board)])
        + f"<p>{escape(board.advice)}</p>"
    )


def _answer(text: str, ok: bool | None) -> str:
    mark = "" if ok is None else ('<span class="ok">named the answer</span>' if ok else '<span class="miss">missed it</span>')
    return f"<pre>{escape(text)}</pre>{mark}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], css: str = "") -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}>{head}{body}</table>"
