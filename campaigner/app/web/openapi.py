"""The HTTP API's OpenAPI 3.1 document, served at GET /api/openapi.json.

Written here by hand beside the routes (`api.py`); tests/integration/test_web_api.py calls every
documented route and validates each answer against its schema, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from campaigner.model.states import CampaignState, JobState

VERSION = "1"


def _nullable(kind: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(kind, str):
        return {"type": [kind, "null"]}
    return {"anyOf": [kind, {"type": "null"}]}


_TIME = {"type": "string", "format": "date-time"}
_NUM = {"type": "number"}
_INT = {"type": "integer"}
_STR = {"type": "string"}


def _object(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        **extra,
    }


_SCHEMAS: dict[str, Any] = {
    "Consent": _object(
        {
            "e164": _STR,
            "suppressed": {"type": "array", "items": _STR, "description": "account, or sender numbers"},
            "history": {"type": "array", "items": {"type": "object"}},
            "replies": {"type": "array", "items": {"type": "object"}},
        },
        required=["e164", "suppressed", "history", "replies"],
    ),
    "Error": _object(
        {
            "error": {**_STR, "description": "One line, as the CLI says it."},
            "field": {**_nullable("string"), "description": "The field, parameter or header at fault."},
            "preview": {"$ref": "#/components/schemas/Preview"},
        },
        required=["error", "field"],
    ),
    "Wait": _nullable(
        _object(
            {
                "code": {
                    "enum": [
                        "draft",
                        "scheduled",
                        "paused",
                        "no_worker",
                        "quiet_hours",
                        "retry_backoff",
                        "rate_schedule",
                    ]
                },
                "text": _STR,
                "until": _nullable({**_TIME}),
            }
        )
    ),
    "Worker": _object(
        {
            "id": _STR,
            "hostname": _STR,
            "pid": _INT,
            "heartbeat_at": _TIME,
            "heartbeat_age_seconds": _NUM,
            "holds_jobs": {"type": "boolean"},
        }
    ),
    "Carriers": _object(
        {
            "live": {"type": "array", "items": {"$ref": "#/components/schemas/Worker"}},
            "holding": {"type": "array", "items": _STR},
            "note": _nullable("string"),
        }
    ),
    "TimelinePoint": _object({"minute": _TIME, "state": {"enum": [str(s) for s in JobState]}, "jobs": _INT}),
    "Live": _object(
        {
            "id": _INT,
            "name": _STR,
            "state": {"enum": [str(s) for s in CampaignState]},
            "reason": _nullable("string"),
            "counts": _object({str(s): _INT for s in JobState}),
            "total": _INT,
            "done": _INT,
            "left": _INT,
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "cost_so_far": _NUM,
            "estimated_cost": _NUM,
            "currency": _STR,
            "rate": {**_NUM, "description": "Jobs a second that left the queue over the last 1-2 minutes."},
            "rate_window_seconds": _NUM,
            "rate_limit": {
                **_nullable("number"),
                "description": "The provider's ceiling, messages a second.",
            },
            "eta_seconds": {**_nullable("number"), "description": "Absent (null) while nothing sends."},
            "wait": {"$ref": "#/components/schemas/Wait"},
            "workers": {"$ref": "#/components/schemas/Carriers"},
            "send_at": _nullable({**_TIME}),
            "started_at": _nullable({**_TIME}),
            "finished_at": _nullable({**_TIME}),
            "updated_at": _TIME,
            "as_of": _TIME,
        },
    ),
    "Campaign": {
        "allOf": [
            {"$ref": "#/components/schemas/Live"},
            _object(
                {
                    "message": _STR,
                    "sample": _nullable(
                        _object(
                            {"line": _INT, "e164": _STR, "body": _STR, "segments": _INT, "encoding": _STR}
                        )
                    ),
                    "sender": _STR,
                    "region": _STR,
                    "provider_account": _STR,
                    "quiet_hours": _nullable(_object({"start": _STR, "end": _STR})),
                    "validity_seconds": _nullable("integer"),
                    "valid_until": _nullable(_TIME),
                    "created_at": _TIME,
                    "countries": {
                        "type": "array",
                        "items": _object(
                            {
                                "country": _STR,
                                "sent": _INT,
                                "delivered": _INT,
                                "undelivered": _INT,
                                "rejected": _INT,
                                "cost": _NUM,
                            }
                        ),
                    },
                    "windows": {
                        "type": "array",
                        "description": "Per country with messages left, under sending windows (empty "
                        "when none apply): open now, when it opens next, how many messages wait for it.",
                        "items": _object(
                            {
                                "country": _STR,
                                "window": _STR,
                                "open_now": {"type": "boolean"},
                                "opens_at": _nullable({**_TIME}),
                                "waiting": _INT,
                            }
                        ),
                    },
                    "last_errors": {
                        "type": "array",
                        "items": _object(
                            {
                                "state": _STR,
                                "error_class": _nullable("string"),
                                "code": _nullable("string"),
                                "message": _nullable("string"),
                                "jobs": _INT,
                            }
                        ),
                    },
                    "latency": _object(
                        {
                            "delivered": _INT,
                            "p50": _nullable("number"),
                            "p95": _nullable("number"),
                            "p99": _nullable("number"),
                        }
                    ),
                    "timeline": {"type": "array", "items": {"$ref": "#/components/schemas/TimelinePoint"}},
                    "preview": {"type": "object"},
                    "clicks": {
                        **_nullable(
                            _object(
                                {
                                    "links": _INT,
                                    "clicks": _INT,
                                    "unique_clickers": _INT,
                                    "repeat_clicks": _INT,
                                    "bot_clicks": _INT,
                                    "delivered": _INT,
                                    "click_through_rate": _nullable("number"),
                                    "by_country": {
                                        "type": "array",
                                        "items": _object(
                                            {
                                                "country": _STR,
                                                "clicks": _INT,
                                                "unique_clickers": _INT,
                                                "delivered": _INT,
                                                "click_through_rate": _nullable("number"),
                                            }
                                        ),
                                    },
                                    "timeline": {
                                        "type": "array",
                                        "items": _object(
                                            {"minute": _TIME, "clicks": _INT, "first_clicks": _INT}
                                        ),
                                    },
                                }
                            )
                        ),
                        "description": "Short links' clicks (null: the message has no links); bots "
                        "are in bot_clicks only.",
                    },
                }
            ),
        ]
    },
    "CampaignList": _object({"campaigns": {"type": "array", "items": {"$ref": "#/components/schemas/Live"}}}),
    "Timeline": _object(
        {"id": _INT, "timeline": {"type": "array", "items": {"$ref": "#/components/schemas/TimelinePoint"}}}
    ),
    "Job": _object(
        {
            "id": _INT,
            "line": _INT,
            "e164": _STR,
            "country": _nullable("string"),
            "state": {"enum": [str(s) for s in JobState]},
            "attempts": _INT,
            "segments": _INT,
            "cost": _NUM,
            "provider_id": _nullable("string"),
            "error_code": _nullable("string"),
            "error_class": _nullable("string"),
            "error_message": _nullable("string"),
            "submitted_at": _nullable({**_TIME}),
            "finished_at": _nullable({**_TIME}),
        }
    ),
    "JobsPage": _object(
        {
            "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
            "next_after": {**_nullable("integer"), "description": "Pass as ?after= for the next page."},
        }
    ),
    "Preview": _object(
        {
            "file": _STR,
            "rows": _INT,
            "sendable": _INT,
            "segments_total": _INT,
            "cost_total": _NUM,
            "currency": _STR,
            "eta_seconds": _NUM,
            "by_country": {"type": "array"},
            "first_rejects": {"type": "array"},
            "no_consent": {
                **_nullable("integer"),
                "description": "Under consent.require_opt_in: sendable numbers with no recorded opt-in now.",
            },
        },
        required=["file", "rows", "sendable", "segments_total", "cost_total", "currency", "eta_seconds"],
    ),
    "Created": _object(
        {
            "id": _INT,
            "state": {"enum": ["draft", "scheduled", "running"]},
            "preview": {"$ref": "#/components/schemas/Preview"},
            "warnings": {"type": "array", "items": _STR},
        }
    ),
    "ActionResult": {
        "allOf": [
            {"$ref": "#/components/schemas/Live"},
            _object(
                {
                    "cancelled": _INT,
                    "with_provider": _INT,
                    "in_flight": _INT,
                    "put_back": _INT,
                },
                required=[],
            ),
        ]
    },
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_ERRORS = {
    "400": _json("Error", "Bad input: the message names the field, row or column"),
    "401": _json("Error", "No token, or a wrong one"),
}
_NOT_FOUND = {"404": _json("Error", "No such campaign")}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "Any 1-200 printable characters (a UUID): the same key again returns the first answer.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
_IDEMPOTENT = {
    "409": _json(
        "Error", "The campaign's state does not allow it, or the key's first request is still running"
    ),
    "422": _json("Error", "The Idempotency-Key was used for a different request"),
}
_FORM = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["recipients", "message"],
                "properties": {
                    "recipients": {
                        "type": "string",
                        "contentMediaType": "text/csv",
                        "description": "The CSV.",
                    },
                    "message": {
                        "type": "string",
                        "description": "The message template ({column} placeholders).",
                    },
                    "name": {"type": "string"},
                    "region": {
                        "type": "string",
                        "description": "Region of national numbers (ISO 3166 alpha-2).",
                    },
                    "link": {
                        "type": "array",
                        "items": {"type": "string", "example": "shop=https://shop.example.com/?c={code}"},
                        "description": "NAME=URL, one field per link: the URL a {link:NAME} of the "
                        "message shortens (as --link); it may hold {column} values of each row.",
                    },
                    "account": {
                        "type": "string",
                        "description": "The provider account ([accounts.NAME]) that sends it "
                        "(default: [provider]).",
                    },
                    "priority": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 100,
                        "default": 10,
                        "description": "Its share of the account's rate beside the other running "
                        'campaigns, under [dispatcher] fairness = "priority" (as --priority).',
                    },
                    "phone_column": {"type": "string"},
                    "encoding": {"type": "string", "description": "The CSV's encoding (default utf-8)."},
                    "smart_encoding": {"type": "boolean"},
                    "strict": {"type": "boolean"},
                    "send_at": {"type": "string", "format": "date-time"},
                    "quiet_hours": {"type": "string", "pattern": "^..:..-..:..$", "example": "09:00-21:00"},
                    "footer": {
                        "type": "string",
                        "description": "Opt-out footer on a line of its own after every message "
                        "(default: [compliance] opt_out_footer).",
                        "example": "Reply STOP to opt out",
                    },
                    "no_footer": {"type": "boolean", "description": "Send no opt-out footer."},
                    "valid_for": {
                        "type": "string",
                        "example": "6h",
                        "description": "Messages not sent within this long of the start expire (30s, 1h30m).",
                    },
                    "valid_until": {
                        "type": "string",
                        "format": "date-time",
                        "description": "Messages not sent by then expire (not with valid_for).",
                    },
                },
            }
        }
    },
}


def _action(verb: str, summary: str) -> dict[str, Any]:
    body = None
    if verb == "pause":
        body = {
            "required": False,
            "content": {"application/json": {"schema": _object({"reason": _STR}, required=[])}},
        }
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": f"{verb}Campaign",
        "parameters": [_ID, _KEY],
        "responses": {
            "200": _json("ActionResult", "The campaign's live facts after it"),
            **_ERRORS,
            **_NOT_FOUND,
            **_IDEMPOTENT,
        },
    }
    if body:
        operation["requestBody"] = body
    return {"post": operation}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "campaigner",
        "version": VERSION,
        "description": "Bulk SMS campaigns: watch them, create them, pause, resume, cancel and retry them. "
        "Every call sends `Authorization: Bearer <token>` (the token in the environment variable "
        "named by `[api] token_env`).",
    },
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/campaigns": {
            "get": {
                "summary": "Every campaign's live facts, oldest first",
                "operationId": "listCampaigns",
                "responses": {"200": _json("CampaignList", "The campaigns"), "401": _ERRORS["401"]},
            },
            "post": {
                "summary": "Create a draft campaign from a CSV and a message; ?start=true also starts it",
                "operationId": "createCampaign",
                "parameters": [
                    _KEY,
                    {"name": "start", "in": "query", "required": False, "schema": {"type": "boolean"}},
                ],
                "requestBody": _FORM,
                "responses": {
                    "201": _json(
                        "Created", "Created (or the first answer again, with Idempotent-Replayed: true)"
                    ),
                    **_ERRORS,
                    "413": _json("Error", "The CSV is larger than api.max_upload_bytes"),
                    **_IDEMPOTENT,
                },
            },
        },
        "/api/campaigns/{id}": {
            "get": {
                "summary": "Everything about one campaign",
                "operationId": "getCampaign",
                "parameters": [_ID],
                "responses": {"200": _json("Campaign", "The campaign"), **_ERRORS, **_NOT_FOUND},
            }
        },
        "/api/campaigns/{id}/timeline": {
            "get": {
                "summary": "Jobs that arrived in each state, per minute",
                "operationId": "getTimeline",
                "parameters": [_ID],
                "responses": {"200": _json("Timeline", "The timeline"), **_ERRORS, **_NOT_FOUND},
            }
        },
        "/api/campaigns/{id}/jobs": {
            "get": {
                "summary": "A page of the campaign's jobs, by id",
                "operationId": "getJobs",
                "parameters": [
                    _ID,
                    {"name": "state", "in": "query", "schema": {"enum": [str(s) for s in JobState]}},
                    {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                ],
                "responses": {"200": _json("JobsPage", "The page"), **_ERRORS, **_NOT_FOUND},
            }
        },
        "/api/campaigns/{id}/pause": _action("pause", "Pause a running or scheduled campaign"),
        "/api/campaigns/{id}/resume": _action("resume", "Resume a paused or draft campaign"),
        "/api/campaigns/{id}/cancel": _action("cancel", "Cancel a campaign and every job not yet sent"),
        "/api/campaigns/{id}/retry": _action(
            "retry", "Put the fixable failed jobs back (transient, account, funds); the daemon sends them"
        ),
        "/api/preview": {
            "post": {
                "summary": "What a campaign would be (a dry run: nothing is stored)",
                "operationId": "preview",
                "requestBody": _FORM,
                "responses": {"200": _json("Preview", "The preview"), **_ERRORS},
            }
        },
        "/api/suppressions/{number}": {
            "get": {
                "summary": "One number's consent: its ledger rows, whether it is listed, its replies",
                "operationId": "getSuppression",
                "parameters": [
                    {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": _json("Consent", "The number's consent"), **_ERRORS},
            }
        },
    },
}


async def openapi_route(request: web.Request) -> web.Response:
    """GET /api/openapi.json."""
    return web.json_response(DOCUMENT)
