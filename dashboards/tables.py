"""The tables under the figures: one shape for the page and for its Excel export."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from onestop.metrics import RateRow


@dataclass
class Table:
    name: str  # the export's file name part: letters, digits and hyphens
    title: str
    headers: list[str]
    rows: list[list[Any]]
    # Per row, where its first cell leads (a case page, a narrower view); None for none.
    links: list[str | None] = field(default_factory=list)
    # Column indexes of rates in [0, 1], written as percentages.
    percent: tuple[int, ...] = ()


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def rate_table(name: str, title: str, rows: list[RateRow], headers: list[str],
               links: list[str | None] | None = None) -> Table:
    """A ranking: label, cases or steps on time / total, the rate and its 95 % interval."""
    return Table(
        name, title, headers,
        [[r.label or r.key, r.on_time, r.total, r.rate, r.low, r.high] for r in rows],
        links or [None] * len(rows), percent=(3, 4, 5),
    )


def xlsx(table: Table, subtitle: str) -> bytes:
    """The table as a workbook: title, subtitle (unit and period), bold headers, percentages
    as numbers formatted 0.0 %, dates as dates."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = table.title[:31]
    sheet["A1"] = table.title
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = subtitle
    for index, header in enumerate(table.headers, start=1):
        cell = sheet.cell(row=4, column=index, value=header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE2EA")
        sheet.column_dimensions[get_column_letter(index)].width = max(12, min(48, len(header) + 4))
    for offset, row in enumerate(table.rows, start=5):
        for index, value in enumerate(row, start=1):
            if isinstance(value, datetime):
                value = value.replace(tzinfo=None)  # Excel has no zones; callers give local time
            cell = sheet.cell(row=offset, column=index, value=value)
            if index - 1 in table.percent and isinstance(value, float):
                cell.number_format = "0.0%"
            elif isinstance(value, datetime):
                cell.number_format = "dd/mm/yyyy hh:mm"
            elif isinstance(value, date):
                cell.number_format = "dd/mm/yyyy"
    sheet.freeze_panes = "A5"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
