"""The OpenAPI 3.1 description of `/api/v1`, as data. A test checks that it names exactly the
blueprint's routes."""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }


TEXT = {"type": "string"}
INSTANT = {"type": ["string", "null"], "format": "date-time"}
VERSION = {
    "type": "integer", "minimum": 1,
    "description": "The case version the caller last saw (its `version`); a different current "
                   "version gets 409 and changes nothing. Also accepted as `If-Match: \"<version>\"`.",
}
CODE_PARAMETER = {
    "name": "code", "in": "path", "required": True,
    "description": "Receipt code (mã hồ sơ)", "schema": {"type": "string", "maxLength": 40},
}
IF_MATCH = {
    "name": "If-Match", "in": "header", "required": False,
    "description": "The expected case version, as an entity tag: \"7\"",
    "schema": {"type": "string"},
}
REFUSALS = {
    "400": _error("Malformed JSON or a body that is not UTF-8"),
    "401": _error("No token, or a token that is unknown or revoked"),
    "403": _error("The officer may not read this case, or may not take this action"),
    "404": _error("No such case (or officer, procedure, unit)"),
    "409": _error("The case changed meanwhile (stale version), or the action is not legal now"),
    "413": _error("The body is larger than 1 MB"),
    "422": _error("A field is missing, unknown, of the wrong type or out of range"),
    "429": _error("Too many requests for this token"),
    "503": _error("The database is not answering; nothing was done"),
}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {**properties, "expected_version": VERSION},
        "required": required,
    }


REASON = {"type": "string", "maxLength": 2000}
NOTE = {"type": ["string", "null"], "maxLength": 2000}
DOCUMENTS = {"type": "array", "maxItems": 100, "items": _ref("Document")}

# action path segment -> (summary, lifecycle operation, request body schema)
ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "handover": (
        "Hand the case over to the owner of the next step (or of a named earlier step)",
        _body({
            "to_officer": {"type": "string", "description": "the receiver's username"},
            "note": NOTE,
            "to_step": {
                "type": ["integer", "string"],
                "description": "position or name of the step; default: the next one",
            },
        }, ["to_officer"]),
    ),
    "supplement-request": (
        "Ask the applicant to supplement the dossier (form 02); the clock pauses",
        _body({"reason": REASON, "documents": DOCUMENTS}, ["reason"]),
    ),
    "supplement-received": (
        "Record the complete supplement; the paused working time is added to the due instant",
        _body({"note": NOTE}, []),
    ),
    "pause": (
        "Pause for the applicant's financial obligations (status 6)",
        _body({"note": NOTE}, []),
    ),
    "resume": ("Resume after payment", _body({"note": NOTE}, [])),
    "extension": (
        "Apology and extension (form 04), by the unit head, once, at least a working day ahead",
        _body({
            "reason": REASON,
            "new_due_at": {
                "type": "string",
                "description": "ISO 8601 instant with its offset, or a date (the close of that day)",
            },
        }, ["reason", "new_due_at"]),
    ),
    "refuse": ("Refuse after review, with the reason", _body({"reason": REASON}, ["reason"])),
    "stop": (
        "Stop processing (form 05)",
        _body({"reason": REASON, "legal_ground": {"type": ["string", "null"], "maxLength": 500}},
              ["reason"]),
    ),
    "withdraw": ("The applicant withdraws the dossier", _body({"reason": REASON}, ["reason"])),
    "resolve": (
        "The result is ready and goes back to the one-stop desk (the case's end time)",
        _body({
            "outcome": {"enum": ["approved", "refused"], "default": "approved"},
            "note": NOTE,
            "to_officer": {"type": ["string", "null"], "description": "desk officer who returns it"},
        }, []),
    ),
    "return": (
        "Hand the result to the applicant, recording their satisfaction if they gave it",
        _body({
            "note": NOTE,
            "satisfied": {"type": ["boolean", "null"],
                          "description": "the applicant's rating at the desk (Decision 766, 5.4)"},
            "comment": {**NOTE, "description": "the applicant's comment; needs `satisfied`"},
        }, []),
    ),
}


def _action(segment: str, summary: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "operationId": segment.replace("-", "_"),
            "summary": summary,
            "tags": ["actions"],
            "parameters": [CODE_PARAMETER, IF_MATCH],
            "requestBody": {
                "required": bool(schema["required"]),
                "content": {"application/json": {"schema": schema}},
            },
            "responses": {
                "200": {
                    "description": "The case after the action",
                    "content": {"application/json": {"schema": _ref("Case")}},
                },
                **REFUSALS,
            },
        }
    }


CASE_SCHEMA = {
    "type": "object",
    "required": [
        "receipt_code", "status", "status_code", "received_at", "due_at", "original_due_at",
        "version", "current_step", "deadline_state", "applicant",
    ],
    "properties": {
        "receipt_code": TEXT,
        "status": {"enum": [
            "submitted", "guided", "refused_at_intake", "received", "in_progress",
            "awaiting_supplement", "awaiting_payment", "refused", "withdrawn", "stopped",
            "resolved", "returned",
        ]},
        "status_label": TEXT,
        "status_code": {"type": "integer", "minimum": 1, "maximum": 10,
                        "description": "national portal status code"},
        "unit": TEXT,
        "procedure": {"type": "object", "properties": {
            "code": TEXT, "version": {"type": "integer"}, "name": TEXT,
        }},
        "channel": {"enum": ["in_person", "online", "post"]},
        "result_return": {"enum": ["in_person", "post", "online", None],
                          "description": "how the result goes back (form 01); null: the channel's way"},
        "applicant": {
            "type": "object",
            "description": "ID number, phone and e-mail are masked unless the reader works the case",
            "properties": {
                "name": TEXT, "id_number": {"type": ["string", "null"]},
                "phone": {"type": ["string", "null"]}, "address": {"type": ["string", "null"]},
                "email": {"type": ["string", "null"]},
            },
        },
        "documents": DOCUMENTS,
        "submitted_at": INSTANT,
        "received_at": INSTANT,
        "due_at": INSTANT,
        "original_due_at": INSTANT,
        "extension": {"type": ["object", "null"], "properties": {
            "new_due_at": INSTANT, "reason": TEXT, "issued_at": INSTANT,
        }},
        "ended_at": INSTANT,
        "returned_at": INSTANT,
        "outcome": {"type": ["string", "null"]},
        "supplement_requests": {"type": "integer"},
        "imported": {"type": "boolean"},
        "version": {"type": "integer", "description": "for expected_version / If-Match"},
        "deadline_state": {"type": ["string", "null"], "enum": [
            "early", "on_time", "late", "within_deadline", "at_risk", "overdue", "paused", None,
        ]},
        "current_step": {"type": ["object", "null"], "properties": {
            "name": TEXT, "position": {"type": "integer"}, "owner": TEXT, "owner_name": TEXT,
            "unit": TEXT, "started_at": INSTANT, "due_at": INSTANT,
            "deadline_state": {"type": "string"},
        }},
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "onestop API",
        "version": "1",
        "description": "Cases of the one-stop desks (Bộ phận Một cửa), from receipt to returned "
                       "result. Authenticate with `Authorization: Bearer <token>` "
                       "(`onestop tokens create USERNAME`). Errors are "
                       "`{\"error\": {\"code\", \"message\"}}`; messages are Vietnamese unless "
                       "`Accept-Language: en`.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "paths": {
        "/cases": {
            "post": {
                "operationId": "receive",
                "summary": "Receive a complete dossier (form 01): the clock starts",
                "tags": ["cases"],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["procedure_code", "applicant"],
                        "properties": {
                            "procedure_code": TEXT,
                            "applicant": _ref("Applicant"),
                            "channel": {"enum": ["in_person", "online", "post"],
                                        "default": "in_person"},
                            "result_return": {
                                "enum": ["in_person", "post", "online"],
                                "description": "how the result goes back to the applicant "
                                               "(form 01); default: the channel's way",
                            },
                            "documents": DOCUMENTS,
                            "unit": {"type": "string", "description":
                                     "receiving unit code; default: the unit the desk serves"},
                        },
                    }}},
                },
                "responses": {
                    "201": {
                        "description": "Received",
                        "headers": {"Location": {"schema": TEXT}, "ETag": {"schema": TEXT}},
                        "content": {"application/json": {"schema": _ref("Case")}},
                    },
                    **REFUSALS,
                },
            },
            "get": {
                "operationId": "list_cases",
                "summary": "Cases the officer may read, newest first",
                "tags": ["cases"],
                "parameters": [
                    {"name": "status", "in": "query", "schema": TEXT,
                     "description": "one status or several, comma-separated"},
                    {"name": "unit", "in": "query", "schema": TEXT,
                     "description": "unit code: its cases and those of the units below"},
                    {"name": "owner", "in": "query", "schema": TEXT,
                     "description": "username of the current step's owner, or `me`"},
                    {"name": "overdue", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                    {"name": "offset", "in": "query",
                     "schema": {"type": "integer", "minimum": 0, "default": 0}},
                ],
                "responses": {
                    "200": {
                        "description": "One page of cases",
                        "content": {"application/json": {"schema": {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": _ref("Case")},
                                "total": {"type": "integer"},
                                "limit": {"type": "integer"},
                                "offset": {"type": "integer"},
                                "next_offset": {"type": ["integer", "null"]},
                            },
                        }}},
                    },
                    **REFUSALS,
                },
            },
        },
        "/cases/{code}": {
            "get": {
                "operationId": "get_case",
                "summary": "One case",
                "tags": ["cases"],
                "parameters": [CODE_PARAMETER],
                "responses": {
                    "200": {
                        "description": "The case",
                        "headers": {"ETag": {"schema": TEXT}},
                        "content": {"application/json": {"schema": _ref("Case")}},
                    },
                    **REFUSALS,
                },
            },
        },
        **{
            f"/cases/{{code}}/{segment}": _action(segment, summary, schema)
            for segment, (summary, schema) in ACTIONS.items()
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {
                    "application/json": {"schema": {"type": "object"}}}}},
            },
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": TEXT, "message": TEXT},
                }},
            },
            "Applicant": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "maxLength": 200},
                    "id_number": {"type": ["string", "null"], "pattern": "^([0-9]{9}|[0-9]{12})$"},
                    "phone": {"type": ["string", "null"]},
                    "address": {"type": ["string", "null"], "maxLength": 500},
                    "email": {"type": ["string", "null"]},
                },
            },
            "Document": {
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "maxLength": 300},
                            "form": {"enum": ["original", "copy", "certified_copy"]},
                            "count": {"type": "integer", "minimum": 1, "maximum": 999},
                        },
                    },
                ],
            },
            "Case": CASE_SCHEMA,
        },
    },
}
