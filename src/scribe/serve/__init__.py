"""``scribe serve``: a local web page to write, watch, tune and download, and an HTTP API beneath it.

The room's walls: :mod:`scribe.serve.requests` turns what a client sends into the
library's own arguments, checked against :data:`~scribe.serve.requests.LIMITS`;
:mod:`scribe.serve.jobs` runs one writing at a time in a worker thread and streams
its events; :mod:`scribe.serve.app` is the ASGI app (Starlette) with its routes and
:mod:`scribe.serve.openapi` their description. The page itself (``page/``) is plain
HTML, CSS and JavaScript served from the package: nothing is fetched from elsewhere.
Only the ``[serve]`` extra's Starlette and uvicorn are needed beyond scribe's own.
"""
