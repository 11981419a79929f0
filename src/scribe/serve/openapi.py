"""The API of ``scribe serve`` described for clients (OpenAPI 3.1), served at ``/api/openapi.json``.

Written by hand beside the routes of :mod:`scribe.serve.app`; a test checks that
every route is described here and every path described is a route.
"""

from __future__ import annotations

from typing import Any

from scribe import __version__

from .requests import LIMITS, PAGE_CHOICES, SAMPLE_SHAPE, writer_names

_ERROR = {"description": "refused: {\"error\": \"one-line reason\"}",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_BUSY = {"description": f"busy: a writing runs and {LIMITS.waiting} wait; try again after Retry-After seconds",
         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

_WRITE_REQUEST = {
    "type": "object", "required": ["text"], "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "maxLength": LIMITS.text_chars, "description": "what to write; lines and paragraphs"},
        "model": {"type": "string", "enum": writer_names()},
        "style": {"type": ["integer", "null"], "description": "built-in style number (GET /api/info: styles per model)"},
        "style_seed": {"type": ["integer", "null"], "description": "a new hand drawn with this seed"},
        "bias": {"type": "number", "description": "higher is neater, lower more varied"},
        "seed": {"type": "integer", "description": "same seed, text and settings: the same writing"},
        "candidates": {"type": "integer", "minimum": 1, "maximum": LIMITS.candidates,
                       "description": "verified writing: samples a misread line may get; 1 turns it off"},
        "page": {"type": "string", "enum": list(PAGE_CHOICES)},
        "line_spacing": {"type": "number", "description": "mm between baselines: the writing's size"},
        "ink": {"type": "string", "description": "#rrggbb or an SVG colour name"},
        "sample": {"type": ["object", "null"], "description": f"your own hand, one line of it: {SAMPLE_SHAPE}, "
                   "y down, any unit; the model writes in its style"},
    },
}
_EVENTS = (
    "One JSON object per line, as the writing happens: {event: started}; {event: pages, count, width, height, "
    "substitutions}; {event: draft, page, strokes} for each line as soon as it is written (strokes: [[x, y], ...] "
    "in mm, y down, placed on the page; the page, laid out whole, may still move it); {event: page, page, svg} once a page "
    "is final; then {event: done, document, pages, seconds, warnings} or {event: error, message}."
)


def openapi_document(downloads: list[str]) -> dict[str, Any]:
    """The OpenAPI description of every route under ``/api``; ``downloads``: the names of the file kinds."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "scribe serve", "version": __version__,
                 "description": "Text in, handwriting out: write, watch it being written, download."},
        "paths": {
            "/api/info": {"get": {"summary": "Models, styles per model, page sizes, downloads, defaults and limits",
                                  "responses": {"200": {"description": "what the server offers"}, "503": _BUSY}}},
            "/api/write": {"post": {
                "summary": "Write a text; the events stream as the writing happens",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _WRITE_REQUEST}}},
                "responses": {"200": {"description": _EVENTS, "content": {"application/x-ndjson": {}}},
                              "400": _ERROR, "413": _ERROR, "503": _BUSY}}},
            "/api/documents/{document_id}/{download}": {"get": {
                "summary": "A finished writing as a file (the server keeps the last few)",
                "parameters": [
                    {"name": "document_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "download", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": downloads}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}}],
                "responses": {"200": {"description": "the file, as an attachment"}, "400": _ERROR, "404": _ERROR,
                              "503": _BUSY}}},
            "/api/previews/{model}/{style}.svg": {"get": {
                "summary": "A built-in style writing a short line",
                "parameters": [{"name": "model", "in": "path", "required": True, "schema": {"type": "string"}},
                               {"name": "style", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"content": {"image/svg+xml": {}}, "description": "the preview"},
                              "400": _ERROR, "404": _ERROR, "503": _BUSY}}},
            "/api/openapi.json": {"get": {"summary": "This description", "responses": {"200": {"description": "OpenAPI"}}}},
        },
        "components": {"schemas": {"Error": {"type": "object", "properties": {"error": {"type": "string"}}}}},
    }
