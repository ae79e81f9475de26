"""Every table of the application, for migrations and schema checks.

Feature modules that declare tables are imported here so that `metadata` is complete.
"""

from onestop import models  # noqa: F401
from onestop import audit  # noqa: F401
from onestop import intake  # noqa: F401
from onestop import tokens  # noqa: F401
from onestop import escalation, inspections, mail, signals  # noqa: F401
from onestop import metrics, reports  # noqa: F401
from onestop.db import Base

metadata = Base.metadata
