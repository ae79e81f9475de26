"""Figure builders, pinned on their data (not on rendered HTML): ordering, counts, intervals,
empty periods and a unit without cases."""

from __future__ import annotations

import pytest

from dashboards import figures as fg
from dashboards.queries import EscalationCount, HeatRow, SignRow, ranked, rate_row
from onestop.metrics import Figures


def week(start: str, end: str, on_time: int, total: int, **kw) -> dict:
    from onestop.metrics import wilson_interval

    low, high = wilson_interval(on_time, total)
    return {"week_start": start, "week_end": end, "received": total, "resolved": total,
            "late": total - on_time, "in_progress": 0, "overdue": 0,
            "on_time_rate": on_time / total if total else None, "low": low, "high": high, **kw}


def test_ranking_puts_a_unit_with_two_late_cases_below_one_with_many_late_and_keeps_intervals():
    rows = ranked([
        rate_row("A", "Xã A", 38, 40, {}),   # 95 %, tight interval
        rate_row("B", "Xã B", 0, 2, {}),     # 0 %, but only 2 cases: the interval reaches 66 %
        rate_row("C", "Xã C", 50, 100, {}),  # 50 %, tight: the real laggard
        rate_row("D", "Xã D", 0, 0, {}),     # nothing to rate
    ])
    assert [r.key for r in rows] == ["C", "B", "A", "D"]
    fig = fg.ranking_figure(rows, "Xếp hạng", links=["/c", "/b", "/a", "/d"])
    bar = fig.data[0]
    assert list(bar.y) == ["Xã C", "Xã B", "Xã A", "Xã D"]
    assert list(bar.x) == [50.0, 0.0, 95.0, 0.0]
    assert list(bar.text) == ["50/100", "0/2", "38/40", "0/0"]
    assert list(bar.customdata) == ["/c", "/b", "/a", "/d"]
    # The error bars are the Wilson interval around the rate, in points.
    b_high = rows[1].high * 100
    assert bar.error_x.array[1] == pytest.approx(b_high, abs=0.1)
    assert bar.error_x.arrayminus[1] == 0.0
    assert fig.layout.yaxis.autorange == "reversed"  # worst at the top


def test_gauge_shows_the_rate_and_20_point_score_and_says_when_the_period_is_empty():
    figures = Figures(resolved_early=3, resolved_on_time=5, resolved_late=2, open_within=0)
    fig = fg.gauge_figure(figures.on_time_rate, figures.score_766)
    assert fig.data[0].value == 80.0
    assert fig.data[0].gauge.threshold.value == 100
    assert "16.00 / 20" in fig.layout.annotations[0].text
    empty = fg.gauge_figure(None, None)
    assert empty.data[0].mode == "gauge"  # no number drawn for an empty period
    assert empty.layout.annotations[0].text == "Chưa có hồ sơ trong kỳ"


def test_classification_counts_split_at_risk_out_of_within_and_sum_to_the_rate_base():
    figures = Figures(resolved_early=1, resolved_on_time=2, resolved_late=3,
                      open_within=5, open_at_risk=2, open_overdue=4, open_paused=1)
    counts = {key: n for key, _, n, _ in fg.classification_counts(figures)}
    assert counts == {"resolved_early": 1, "resolved_on_time": 2, "resolved_late": 3,
                      "open_within": 3, "open_at_risk": 2, "open_overdue": 4}
    assert sum(counts.values()) == figures.rate_base
    fig = fg.classification_figure(figures, t=str.upper)
    assert list(fig.data[0].y) == [1, 2, 3, 3, 2, 4]
    assert fig.data[0].x[0] == "TRƯỚC HẠN"  # labels go through the translation


def test_classification_of_a_unit_without_cases_draws_every_class_at_zero():
    counts = fg.classification_counts(Figures())
    assert [n for _, _, n, _ in counts] == [0] * 6
    fig = fg.classification_figure(Figures())
    assert list(fig.data[0].y) == [0] * 6 and len(fig.data[0].x) == 6


def test_trend_leaves_a_gap_for_a_week_without_cases_and_carries_the_interval():
    weeks = [week("2026-03-02", "2026-03-08", 9, 10), week("2026-03-09", "2026-03-15", 0, 0),
             week("2026-03-16", "2026-03-22", 5, 5)]
    fig = fg.trend_figure(weeks)
    line = fig.data[0]
    assert list(line.x) == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert list(line.y) == [90.0, None, 100.0]
    assert line.error_y.array[1] is None and line.error_y.arrayminus[1] is None
    assert line.error_y.array[2] == 0.0 and line.error_y.arrayminus[2] > 0
    assert fg.trend_figure([]).data[0].x is None or list(fg.trend_figure([]).data[0].x) == []


def test_heat_map_keeps_rows_weeks_and_links_in_step_and_marks_empty_weeks():
    rows = [
        HeatRow("XA-MP", "Xã Minh Phú", True, [week("2026-03-02", "2026-03-08", 3, 4),
                                               week("2026-03-09", "2026-03-15", 0, 0)]),
        HeatRow("XA-SD", "Xã Sóc Sơn", True, [week("2026-03-02", "2026-03-08", 2, 2),
                                              week("2026-03-09", "2026-03-15", 1, 2)]),
    ]
    links = [["/mp1", "/mp2"], ["/sd1", "/sd2"]]
    weeks, labels, z = fg.heatmap_matrix(rows)
    assert weeks == ["2026-03-02", "2026-03-09"]
    assert labels == ["Xã Minh Phú", "Xã Sóc Sơn"]
    assert z == [[75.0, None], [100.0, 50.0]]
    fig = fg.heatmap_figure(rows, links)
    assert [list(r) for r in fig.data[0].customdata] == links
    assert fg.heatmap_matrix([]) == ([], [], [])


def test_days_lost_and_overdue_held_keep_the_order_given_and_drop_officers_holding_nothing_late():
    lost = [
        {"procedure": "HT-KS", "step_position": 2, "step": "Xử lý", "budget_days": 1.0,
         "finished": 4, "late": 2, "average_days_used": 1.5, "days_lost": 3.25, "held_overdue": 1},
        {"procedure": "CT-BS", "step_position": 1, "step": None, "budget_days": 0.5,
         "finished": 9, "late": 0, "average_days_used": 0.2, "days_lost": 0.0, "held_overdue": 0},
    ]
    fig = fg.days_lost_figure(lost)
    assert list(fig.data[0].y) == ["HT-KS – Xử lý", "CT-BS – 1"]
    assert list(fig.data[2].x) == [3.25, 0.0]
    held = [
        {"username": "a", "full_name": "A", "held": 5, "steps_overdue": 2, "cases_overdue": 3,
         "at_risk": 0},
        {"username": "b", "full_name": "B", "held": 4, "steps_overdue": 0, "cases_overdue": 0,
         "at_risk": 1},
    ]
    fig = fg.overdue_held_figure(held, ["/a"])
    assert list(fig.data[0].y) == ["A"] and list(fig.data[0].x) == [3]
    assert list(fig.data[1].x) == [2]


def test_escalations_stack_by_age_in_order_and_signs_count_most_first():
    counts = [EscalationCount("step_overdue", "> 7", 2), EscalationCount("step_overdue", "< 1", 1),
              EscalationCount("case_overdue", "1–3", 4)]
    fig = fg.escalation_figure(counts)
    assert [t.name for t in fig.data] == ["< 1 ngày", "1–3 ngày", "> 7 ngày"]
    assert list(fig.data[0].x) == ["case_overdue", "step_overdue"]
    assert list(fig.data[0].y) == [0, 1] and list(fig.data[2].y) == [0, 2]
    signs = [SignRow(None, s, "k", "x", None, None)
             for s in ("dragging", "passing_ball", "dragging")]
    fig = fg.signs_figure(signs, sign_label=str.upper)
    assert list(fig.data[0].x) == ["DRAGGING", "PASSING_BALL"] and list(fig.data[0].y) == [2, 1]


def test_figures_stay_small_without_the_default_template():
    from plotly.io import to_json

    rows = [rate_row(f"U{i}", f"Đơn vị {i}", i, 50, {}) for i in range(40)]
    assert len(to_json(fg.ranking_figure(ranked(rows), "Xếp hạng"))) < 12_000


def test_each_classification_bar_leads_to_the_cases_of_its_class():
    figures = Figures(resolved_early=1, resolved_on_time=2, resolved_late=3,
                      open_within=5, open_at_risk=2, open_overdue=4)
    links = {key: f"/drill?class={key}" for key, *_ in fg.CLASSES}
    bar = fg.classification_figure(figures, links=links).data[0]
    assert list(bar.customdata) == [f"/drill?class={key}" for key, *_ in fg.CLASSES]
    assert list(bar.y) == [1, 2, 3, 3, 2, 4]  # each link beside the count it opens
    assert fg.classification_figure(figures).data[0].customdata is None


def test_each_week_of_the_trend_leads_to_that_week_and_keeps_its_hover_counts():
    weeks = [week("2026-03-02", "2026-03-08", 9, 10), week("2026-03-09", "2026-03-15", 0, 0)]
    line = fg.trend_figure(weeks, links=["/w1", "/w2"]).data[0]
    assert [list(c) for c in line.customdata] == [[10, 10, 0, "/w1"], [0, 0, 0, "/w2"]]
    # The page script follows the last item of a point's customdata.
    assert [c[-1] for c in line.customdata] == ["/w1", "/w2"]
    assert [list(c) for c in fg.trend_figure(weeks).data[0].customdata] == [[10, 10, 0],
                                                                            [0, 0, 0]]


def test_every_bar_of_a_step_in_days_lost_leads_to_that_step():
    lost = [
        {"procedure": "HT-KS", "step_position": 2, "step": "Xử lý", "budget_days": 1.0,
         "finished": 4, "late": 2, "average_days_used": 1.5, "days_lost": 3.25, "held_overdue": 1},
        {"procedure": "CT-BS", "step_position": 1, "step": None, "budget_days": 0.5,
         "finished": 9, "late": 0, "average_days_used": 0.2, "days_lost": 0.0, "held_overdue": 0},
    ]
    fig = fg.days_lost_figure(lost, links=["/ks2", "/bs1"])
    assert [list(trace.customdata) for trace in fig.data] == [["/ks2", "/bs1"]] * 3
    cut = fg.days_lost_figure(lost, limit=1, links=["/ks2", "/bs1"])
    assert [list(trace.customdata) for trace in cut.data] == [["/ks2"]] * 3


def test_each_escalation_segment_and_each_sign_bar_leads_to_what_it_counts():
    counts = [EscalationCount("step_overdue", "> 7", 2), EscalationCount("step_overdue", "< 1", 1),
              EscalationCount("case_overdue", "1–3", 4)]
    links = {(c.level, c.age): f"/e?level={c.level}&age={c.age}" for c in counts}
    fig = fg.escalation_figure(counts, links=links)
    by_age = {t.name: list(t.customdata) for t in fig.data}
    # x is [case_overdue, step_overdue]; a level without that age has nothing to open.
    assert by_age == {"< 1 ngày": [None, "/e?level=step_overdue&age=< 1"],
                      "1–3 ngày": ["/e?level=case_overdue&age=1–3", None],
                      "> 7 ngày": [None, "/e?level=step_overdue&age=> 7"]}
    signs = [SignRow(None, s, "k", "x", None, None)
             for s in ("dragging", "passing_ball", "dragging")]
    bar = fg.signs_figure(signs, links={"dragging": "/d", "passing_ball": "/p"}).data[0]
    assert list(bar.customdata) == ["/d", "/p"]  # most frequent first, as the bars
