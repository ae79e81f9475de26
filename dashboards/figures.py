"""Figure builders: plain data in, a `plotly.graph_objects.Figure` out; no database, no request.

Every builder takes `t`, the translation of a Vietnamese label (identity by default), and, where
a figure element leads somewhere narrower, the target URLs as `links` in the same order as the
data; the page script follows `customdata` on a click. Rates are drawn in percent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import plotly.graph_objects as go

from onestop.metrics import Figures, RateRow

Translate = Callable[[str], str]

GREEN, AMBER, RED, GREY, BLUE = "#2e7d32", "#f9a825", "#c62828", "#9e9e9e", "#1565c0"
FONT = "system-ui, 'Segoe UI', Roboto, 'Noto Sans', sans-serif"
# Classification order and colours, finished first then open (RULES.md section 4).
CLASSES = (
    ("resolved_early", "Trước hạn", "#1b5e20"),
    ("resolved_on_time", "Đúng hạn", GREEN),
    ("resolved_late", "Quá hạn (đã trả)", RED),
    ("open_within", "Trong hạn", BLUE),
    ("open_at_risk", "Sắp đến hạn", AMBER),
    ("open_overdue", "Quá hạn (đang giải quyết)", "#8e0000"),
)


def _same(text: str) -> str:
    return text


def _figure(traces, title: str, height: int = 360, **layout) -> go.Figure:
    """One constructor call, so plotly validates the figure once, not once per update; the
    "none" template keeps each figure's JSON small (the default one weighs ~6 KB)."""
    base = {
        "template": "none", "title": {"text": title, "x": 0, "font": {"size": 16}},
        "font": {"family": FONT, "size": 13}, "height": height,
        "margin": {"l": 10, "r": 10, "t": 48, "b": 40}, "showlegend": False,
    }
    for axis in ("xaxis", "yaxis"):
        layout[axis] = {"automargin": True, **layout.get(axis, {})}
    return go.Figure(data=list(traces), layout={**base, **layout})


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def gauge_figure(rate: float | None, score: float | None, t: Translate = _same) -> go.Figure:
    """The 766 on-time rate as a gauge against the 100 % target, with its 20-point score."""
    if rate is None:
        text = t("Chưa có hồ sơ trong kỳ")
    else:
        text = t("Điểm 766: {score} / 20").format(score=f"{score:.2f}")
    indicator = go.Indicator(
        mode="gauge" if rate is None else "gauge+number",
        value=_pct(rate) if rate is not None else 0,
        number={"suffix": " %", "valueformat": ".1f"},
        gauge={
            "axis": {"range": [0, 100]},
            "bar": {"color": GREEN if (rate or 0) >= 0.95
                    else AMBER if (rate or 0) >= 0.8 else RED},
            "threshold": {"line": {"color": "#000", "width": 3}, "value": 100},
        },
        title={"text": t("Tỷ lệ đúng hạn (chỉ tiêu 100 %)")}, domain={"x": [0, 1], "y": [0.18, 1]},
    )
    return _figure([indicator], "", height=280, annotations=[{
        "text": text, "x": 0.5, "y": 0, "xref": "paper", "yref": "paper", "showarrow": False,
        "font": {"size": 15},
    }])


def classification_counts(figures: Figures) -> list[tuple[str, str, int, str]]:
    """(key, Vietnamese label, count, colour) of the cases the rate rests on: every case
    resolved in the period or still open at its end. At risk is taken out of within deadline."""
    values = {
        "resolved_early": figures.resolved_early,
        "resolved_on_time": figures.resolved_on_time,
        "resolved_late": figures.resolved_late,
        "open_within": figures.open_within - figures.open_at_risk,
        "open_at_risk": figures.open_at_risk,
        "open_overdue": figures.open_overdue,
    }
    return [(key, label, values[key], colour) for key, label, colour in CLASSES]


def classification_figure(figures: Figures, t: Translate = _same,
                          links: Mapping[str, str] | None = None) -> go.Figure:
    """One bar per class; `links` maps a class key to the list of its cases."""
    counts = classification_counts(figures)
    bar = go.Bar(
        x=[t(label) for _, label, _, _ in counts], y=[n for _, _, n, _ in counts],
        marker={"color": [c for *_, c in counts]}, text=[n for _, _, n, _ in counts],
        textposition="outside", cliponaxis=False,
        customdata=[links.get(key) for key, *_ in counts] if links is not None else None,
    )
    return _figure([bar], t("Hồ sơ theo phân loại"))


def trend_figure(weeks: Sequence[dict], t: Translate = _same,
                 links: Sequence[str] | None = None) -> go.Figure:
    """Week by week: the rate with its Wilson interval (a week without cases is a gap); a
    click on a week follows its link (the last item of the point's customdata)."""
    x = [w["week_start"] for w in weeks]
    rate = [_pct(w["on_time_rate"]) for w in weeks]
    pairs = list(zip(rate, weeks, strict=True))
    plus = [None if r is None else round(100 * w["high"] - r, 1) for r, w in pairs]
    minus = [None if r is None else round(r - 100 * w["low"], 1) for r, w in pairs]
    line = go.Scatter(
        x=x, y=rate, mode="lines+markers", line={"color": BLUE}, connectgaps=False,
        error_y={"type": "data", "array": plus, "arrayminus": minus, "color": GREY},
        customdata=[[w["received"], w["resolved"], w["overdue"],
                     *([links[i]] if links is not None else [])] for i, w in enumerate(weeks)],
        hovertemplate="%{x}: %{y} %<br>" + t("Đã tiếp nhận") + " %{customdata[0]}, "
        + t("Đã giải quyết") + " %{customdata[1]}, " + t("Quá hạn") + " %{customdata[2]}"
        + "<extra></extra>",
    )
    target = {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 100, "y1": 100,
              "line": {"dash": "dot", "color": GREEN}}
    return _figure([line], t("Tỷ lệ đúng hạn theo tuần"), shapes=[target],
                   yaxis={"range": [0, 105], "ticksuffix": " %"}, xaxis={"type": "category"})


def ranking_figure(
    rows: Sequence[RateRow], title: str, links: Sequence[str] | None = None, t: Translate = _same,
) -> go.Figure:
    """Rates as horizontal bars, worst at the top, each with its Wilson interval and the count
    it rests on; a click on a bar follows its link."""
    labels = [r.label or r.key for r in rows]
    rate = [_pct(r.rate) or 0.0 for r in rows]
    pairs = list(zip(rows, rate, strict=True))
    bar = go.Bar(
        y=labels, x=rate, orientation="h",
        marker={"color": [RED if r.high < 0.9 else AMBER if (r.rate or 0) < 0.95 else GREEN
                          for r in rows]},
        error_x={"type": "data", "array": [round(100 * r.high - x, 1) for r, x in pairs],
                 "arrayminus": [round(x - 100 * r.low, 1) for r, x in pairs], "color": "#424242"},
        text=[f"{r.on_time}/{r.total}" for r in rows], textposition="inside",
        customdata=list(links) if links is not None else None,
        hovertemplate="%{y}: %{x} % (%{text})<extra></extra>",
    )
    return _figure([bar], title, height=max(220, 60 + 28 * len(rows)),
                   xaxis={"range": [0, 100], "ticksuffix": " %"}, yaxis={"autorange": "reversed"})


def days_lost_figure(rows: Sequence[dict], t: Translate = _same, limit: int = 15,
                     links: Sequence[str] | None = None) -> go.Figure:
    """Per step, most days lost first: the average working days used against the budget, and
    the working days lost past the steps' dues; a click on a step's bars follows its link."""
    rows = list(rows)[:limit]
    labels = [f"{r['procedure']} – {r['step'] or r['step_position']}" for r in rows]
    data = list(links)[:limit] if links is not None else None
    traces = [
        go.Bar(y=labels, x=[r["average_days_used"] or 0 for r in rows], orientation="h",
               name=t("Trung bình đã dùng (ngày)"), marker={"color": BLUE}, customdata=data),
        go.Bar(y=labels, x=[r["budget_days"] or 0 for r in rows], orientation="h",
               name=t("Định mức (ngày)"), marker={"color": GREY}, customdata=data),
        go.Bar(y=labels, x=[r["days_lost"] for r in rows], orientation="h",
               name=t("Ngày làm việc bị chậm"), marker={"color": RED}, customdata=data),
    ]
    return _figure(traces, t("Thời gian theo bước so với định mức"),
                   height=max(240, 80 + 48 * len(rows)), yaxis={"autorange": "reversed"},
                   barmode="group", showlegend=True, legend={"orientation": "h", "y": -0.15})


def overdue_held_figure(rows: Sequence[dict], links: Sequence[str] | None = None,
                        t: Translate = _same) -> go.Figure:
    """Overdue cases held per officer, most first (officers holding none are left out)."""
    rows = [r for r in rows if r["cases_overdue"] or r["steps_overdue"]]
    traces = [
        go.Bar(y=[r["full_name"] for r in rows], x=[r["cases_overdue"] for r in rows],
               orientation="h", name=t("Hồ sơ quá hạn đang giữ"), marker={"color": RED},
               customdata=list(links) if links is not None else None),
        go.Bar(y=[r["full_name"] for r in rows], x=[r["steps_overdue"] for r in rows],
               orientation="h", name=t("Bước quá hạn"), marker={"color": AMBER},
               customdata=list(links) if links is not None else None),
    ]
    return _figure(traces, t("Hồ sơ quá hạn theo cán bộ"), height=max(220, 80 + 40 * len(rows)),
                   yaxis={"autorange": "reversed"}, barmode="group", showlegend=True,
                   legend={"orientation": "h", "y": -0.2})


def heatmap_matrix(rows: Sequence) -> tuple[list[str], list[str], list[list[float | None]]]:
    """(weeks, row labels, rates in percent) of heat rows (`queries.HeatRow`); None where a
    week has no case to rate."""
    weeks = [w["week_start"] for w in rows[0].weeks] if rows else []
    labels = [r.name for r in rows]
    z = [[_pct(w["on_time_rate"]) for w in r.weeks] for r in rows]
    return weeks, labels, z


def heatmap_figure(rows: Sequence, links: Sequence[Sequence[str]] | None = None,
                   t: Translate = _same) -> go.Figure:
    """Sub-units × weeks, coloured by the 766 rate; a click opens that unit and week."""
    weeks, labels, z = heatmap_matrix(rows)
    counts = [[f"{w['resolved'] + w['in_progress']}" for w in r.weeks] for r in rows]
    heat = go.Heatmap(
        x=weeks, y=labels, z=z, zmin=50, zmax=100, xgap=2, ygap=2,
        colorscale=[[0, RED], [0.6, AMBER], [1, GREEN]], colorbar={"ticksuffix": " %"},
        text=counts, texttemplate="%{z}", hoverongaps=False,
        customdata=[list(r) for r in links] if links is not None else None,
        hovertemplate="%{y}, %{x}: %{z} % (%{text})<extra></extra>",
    )
    return _figure([heat], t("Tỷ lệ đúng hạn theo đơn vị và tuần"),
                   height=max(240, 100 + 36 * len(rows)), xaxis={"type": "category"},
                   yaxis={"autorange": "reversed"})


def escalation_figure(counts: Sequence, level_label: Callable[[str], str] = _same,
                      t: Translate = _same,
                      links: Mapping[tuple[str, str], str] | None = None) -> go.Figure:
    """Open escalations by level, stacked by age (`queries.EscalationCount`); `links` maps
    (level, age) to the list of those cases."""
    levels = sorted({c.level for c in counts})
    ages = []
    for c in counts:
        if c.age not in ages:
            ages.append(c.age)
    by = {(c.level, c.age): c.count for c in counts}
    shades = {"< 1": "#ffe082", "1–3": "#ffb74d", "3–7": "#f4511e", "> 7": "#b71c1c"}
    traces = [
        go.Bar(x=[level_label(lv) for lv in levels], y=[by.get((lv, age), 0) for lv in levels],
               name=t("{age} ngày").format(age=age), marker={"color": shades.get(age, GREY)},
               customdata=[links.get((lv, age)) for lv in levels] if links is not None else None)
        for age in sorted(ages, key=list(shades).index)
    ]
    return _figure(traces, t("Cảnh báo đang mở theo cấp và tuổi"), barmode="stack",
                   showlegend=True)


def signs_figure(rows: Sequence, sign_label: Callable[[str], str] = _same,
                 t: Translate = _same, links: Mapping[str, str] | None = None) -> go.Figure:
    """Signs (`queries.SignRow`) counted by sign, most first; `links` maps a sign to the list
    of its occurrences."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.sign] = counts.get(r.sign, 0) + 1
    order = sorted(counts, key=lambda s: (-counts[s], s))
    bar = go.Bar(x=[sign_label(s) for s in order], y=[counts[s] for s in order],
                 marker={"color": AMBER},
                 customdata=[links.get(s) for s in order] if links is not None else None)
    return _figure([bar], t("Dấu hiệu đùn đẩy, né tránh (tham khảo)"))
