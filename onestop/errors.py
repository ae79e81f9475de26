"""Domain errors. Each carries a stable code (for the API and tests) and renders in vi or en."""

from __future__ import annotations

from onestop.i18n import DEFAULT_LANGUAGE, ROLE_LABELS, STEP_LABELS, label, translate

# Parameters that are catalogue keys, read out as their labels in the message's language.
LABELLED_PARAMS = {"role": ROLE_LABELS, "step": STEP_LABELS}


class OnestopError(Exception):
    """Base of every refusal the domain gives; `code` is stable, `message()` is translated."""

    http_status = 400

    def __init__(self, code: str, /, **params: object) -> None:
        self.code = code
        self.params = params
        super().__init__(self.message("en"))

    def message(self, language: str = DEFAULT_LANGUAGE, **shown: object) -> str:
        """The message in `language`; `shown` replaces parameters as a page words them."""
        params = {
            name: label(LABELLED_PARAMS[name], value, language)
            if name in LABELLED_PARAMS and isinstance(value, str) else value
            for name, value in self.params.items()
        }
        return translate(self.code, language, **{**params, **shown})


class NotFound(OnestopError):
    http_status = 404


class PermissionDenied(OnestopError):
    http_status = 403


class InvalidTransition(OnestopError):
    """The action is not legal in the case's current state."""

    http_status = 409


class Conflict(OnestopError):
    """Someone else changed the case first; nothing was written."""

    http_status = 409


class ValidationError(OnestopError):
    http_status = 422
