"""Every table of the application, for migrations and schema checks.

Feature modules that declare tables are imported here so that `metadata` is complete.
"""

from onestop import (  # noqa: F401  # noqa: F401
    audit,  # noqa: F401
    escalation,
    inspections,
    intake,  # noqa: F401
    mail,
    metrics,
    models,  # noqa: F401
    reports,
    signals,
    tokens,  # noqa: F401
)
from onestop.db import Base

metadata = Base.metadata
