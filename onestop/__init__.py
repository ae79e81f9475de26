"""onestop: case management for Vietnam's one-stop desks (Bộ phận Một cửa).

The package root is the domain: models, the case lifecycle, the working-time calendar and the
classification rules. The Flask app lives in `onestop.web`; nothing else imports Flask or Prefect.
"""

__version__ = "0.1.0"
