"""The 数据日报 as a page (HTML with server-side SVG charts), a PDF (the same charts and tables, for the command
centre) and an Excel workbook (reports/workbook.py). Charts are drawn by matplotlib with the CJK font of
reports/fonts.py, on the non-interactive Agg backend, one figure at a time (figures are closed when drawn)."""
from __future__ import annotations

import html
import io
from collections.abc import Iterable

from reports.content import words
from reports.daily import DailyFigures


def _pyplot(font: str | None):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    style = {"svg.fonttype": "path", "pdf.fonttype": 42, "axes.unicode_minus": False}
    if font:
        style["font.family"] = [font, "sans-serif"]
    return plt, style


def charts(figures: DailyFigures, font: str | None) -> list:
    """The report's charts as matplotlib figures (the caller closes them): by hour, by channel, by category."""
    plt, style = _pyplot(font)
    w = words()
    out = []
    with plt.rc_context(style):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        hours = list(range(24))
        ax.bar(hours, figures.contacts_by_hour, color="#4a7ab8", label=w["by_hour_contacts"])
        ax.bar(hours, figures.resolved_by_hour, color="#63b36b", label=w["by_hour_resolved"])
        ax.plot(hours, figures.tickets_by_hour, color="#d0543c", marker="o", markersize=3, label=w["by_hour_tickets"])
        ax.set_xticks(hours)
        ax.set_xlabel(w["hour"])
        ax.set_title(w["by_hour"])
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        out.append(fig)
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
        channels = [c for c in figures.contacts_by_channel]
        left.bar([w["channels"].get(c, c) for c in channels], [figures.contacts_by_channel[c] for c in channels],
                 color="#4a7ab8")
        left.set_title(w["by_channel"])
        categories = list(figures.tickets_by_category.items())[:8][::-1]
        right.barh([name[:14] for name, _ in categories], [count for _, count in categories], color="#d0543c")
        right.set_title(w["tickets_by_category"])
        right.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        out.append(fig)
    return out


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _table(headers: Iterable[str], rows: Iterable[Iterable], css: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _counts(title: str, counts: dict | None, names: dict | None = None) -> str:
    w = words()
    if counts is None:
        return f"<section><h2>{html.escape(title)}</h2><p>{html.escape(w['not_available'])}</p></section>"
    rows = [((names or {}).get(k, k), v) for k, v in counts.items()] or [(w["none"], 0)]
    return f"<section><h2>{html.escape(title)}</h2>{_table([title, w['count']], rows, 'counts')}</section>"


def summary_rows(figures: DailyFigures) -> list[tuple[str, str]]:
    w = words()
    return [(w["contacts"], str(figures.contacts)), (w["answered"], str(figures.answered)),
            (w["resolved"], str(figures.resolved)), (w["came_back"], str(figures.came_back)),
            (w["self_service_rate"], f"{figures.self_service_rate:.1%}"), (w["tickets"], str(figures.tickets)),
            (w["clarifications"], str(figures.clarifications)),
            (w["deadlines"], f"{figures.deadlines_met}/{figures.deadlines_due}")]


def staffing_rows(figures: DailyFigures) -> tuple[str, list[tuple]] | None:
    st = figures.staffing
    if not st:
        return None
    w = words()
    note = w["staffing_note"].format(hour=st["peak_hour"], contacts=st["contacts"], handling=round(st["handling_seconds"]),
                                     level=round(st["service_level"] * 100), answer=round(st["answer_seconds"]),
                                     patience=round(st["patience_seconds"]))
    with_label = w["staffing_with"].format(share=round(st["diverted_share"] * 100))
    return note, [("", w["staffing_without"], with_label),
                  (w["erlang_c"], st["erlang_c_without"], st["erlang_c_with"]),
                  (w["erlang_a"], st["erlang_a_without"], st["erlang_a_with"])]


def html_page(figures: DailyFigures, font: str | None) -> str:
    """The whole report as one page: no scripts, no outside resources (the charts are inline SVG)."""
    w = words()
    parts = [f"<h1>{html.escape(w['title'])} · {html.escape(figures.day)}</h1>",
             f"<p class=\"built\">{html.escape(w['built_at'])}: {html.escape(figures.built_at[:19])}</p>",
             f"<section><h2>{html.escape(w['summary'])}</h2>{_table([w['summary'], w['count']], summary_rows(figures), 'summary')}</section>"]
    parts += [f'<figure class="chart">{_svg(fig)}</figure>' for fig in charts(figures, font)]
    parts.append(_counts(w["by_channel"], figures.contacts_by_channel, w["channels"]))
    parts.append(_counts(w["by_city"], figures.contacts_by_city))
    parts.append(_counts(w["clarification_outcomes"], figures.clarification_outcomes, w["outcomes"]))
    if figures.clarification_choices:
        choices = [(c["question"], c["chosen"]) for c in figures.clarification_choices]
        parts.append(f"<section><h2>{html.escape(w['clarification_choices'])}</h2>"
                     f"{_table([w['entry'], w['count']], choices, 'choices')}</section>")
    parts.append(_counts(w["handoffs_by_reason"], figures.handoffs_by_reason, w["reasons"]))
    parts.append(_counts(w["tickets_by_category"], figures.tickets_by_category))
    parts.append(_counts(w["tickets_by_urgency"], figures.tickets_by_urgency))
    parts.append(_counts(w["tickets_by_request_type"], figures.tickets_by_request_type))
    parts.append(_counts(w["callbacks"], figures.callbacks, w["callback_results"]))
    parts.append(_counts(w["calls"], figures.calls))
    hot = [(t["label"], t["today"], t["yesterday"], " / ".join(t["examples"])) for t in figures.hot_topics]
    parts.append(f"<section id=\"hot\"><h2>{html.escape(w['hot_topics'])}</h2>"
                 f"{_table([w['topic'], w['today'], w['yesterday'], w['examples']], hot, 'hot')}</section>")
    gap_rows = "".join(
        f"<tr><td>{html.escape(g['label'] or w['unclustered'])}</td><td>{g['questions']}</td>"
        f"<td><a href=\"{html.escape(g['link'])}\">{html.escape(w['make_entry'])}</a></td></tr>" for g in figures.gaps)
    parts.append(f"<section id=\"gaps\"><h2>{html.escape(w['gaps'])}</h2><table class=\"gaps\"><thead><tr>"
                 f"<th>{html.escape(w['topic'])}</th><th>{html.escape(w['questions'])}</th><th></th></tr></thead>"
                 f"<tbody>{gap_rows}</tbody></table></section>")
    changes = [(c["question"], c["version"], c["status"], c["by"], c["at"]) for c in figures.entry_changes]
    parts.append(f"<section id=\"changes\"><h2>{html.escape(w['entry_changes'])}</h2>"
                 f"{_table([w['entry'], w['version'], w['status'], w['by'], w['at']], changes, 'changes')}</section>")
    parts.append(_counts(w["support"], figures.support_by_city))
    parts.append(_counts(w["support_team"], figures.support_by_team))
    seats = staffing_rows(figures)
    if seats is not None:
        note, rows = seats
        parts.append(f"<section id=\"staffing\"><h2>{html.escape(w['staffing'])}</h2><p>{html.escape(note)}</p>"
                     f"{_table(rows[0], rows[1:], 'staffing')}</section>")
    style = ("body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;margin:.5em 0}"
             "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}figure.chart svg{max-width:100%;height:auto}")
    return ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(w['title'])} {html.escape(figures.day)}</title><style>{style}</style></head>"
            f"<body>{''.join(parts)}</body></html>")


def pdf_document(figures: DailyFigures, font: str | None) -> bytes:
    """The report as a PDF: a page of figures and seats, the charts, a page of hot topics and gaps."""
    from matplotlib.backends.backend_pdf import PdfPages

    plt, style = _pyplot(font)
    w = words()
    buffer = io.BytesIO()
    with plt.rc_context(style), PdfPages(buffer, metadata={"Title": f"{w['title']} {figures.day}"}) as pdf:
        fig = plt.figure(figsize=(8.27, 11.69))
        lines = [f"{w['title']} · {figures.day}", ""] + [f"{k}: {v}" for k, v in summary_rows(figures)]
        seats = staffing_rows(figures)
        if seats is not None:
            note, rows = seats
            lines += ["", w["staffing"], note] + [f"  {a}: {rows[0][1]} {b} · {rows[0][2]} {c}" for a, b, c in rows[1:]]
        lines += ["", w["handoffs_by_reason"]] + [f"  {w['reasons'].get(k, k)}: {v}"
                                                  for k, v in figures.handoffs_by_reason.items()]
        lines += ["", w["tickets_by_urgency"]] + [f"  {k}: {v}" for k, v in figures.tickets_by_urgency.items()]
        for title, counts in ((w["support"], figures.support_by_city), (w["support_team"], figures.support_by_team)):
            if counts:
                lines += ["", title] + [f"  {k}: {v}" for k, v in counts.items()]
        fig.text(0.08, 0.95, "\n".join(lines), va="top", fontsize=10, linespacing=1.6)
        pdf.savefig(fig)
        plt.close(fig)
        for chart in charts(figures, font):
            pdf.savefig(chart)
            plt.close(chart)
        fig = plt.figure(figsize=(8.27, 11.69))
        lines = [w["hot_topics"]] + [f"  {t['label'][:30]}  {t['today']} ({w['yesterday']} {t['yesterday']})"
                                     for t in figures.hot_topics]
        lines += ["", w["gaps"]] + [f"  {(g['label'] or w['unclustered'])[:30]}  {g['questions']}" for g in figures.gaps]
        lines += ["", w["entry_changes"]] + [f"  {c['at']} {c['question'][:24]} v{c['version']} {c['by']}"
                                             for c in figures.entry_changes]
        fig.text(0.08, 0.95, "\n".join(lines), va="top", fontsize=9, linespacing=1.5)
        pdf.savefig(fig)
        plt.close(fig)
    return buffer.getvalue()
