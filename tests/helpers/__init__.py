"""Everything tests share, in one package: tiny models and datasets, files in the exact formats, a local server.

Tests must not depend on the real datasets, so each builder writes a small,
deterministic file with the same keys, dtypes and layout as the real thing and
returns what it wrote, for assertions. The fixtures that use these live in
``conftest.py``; no test module imports another.

- :mod:`helpers.basics`: the real-data switch, tiny split datasets, tiny models and training options;
- :mod:`helpers.files`: DeepWriting, IAM-OnDB and hostile files, byte for byte as scribe reads them;
- :mod:`helpers.render`: cairosvg's rendering of an SVG (the reference for drawn pages) and PNG pixels;
- :mod:`helpers.server`: an HTTP server on 127.0.0.1 that serves, cuts, stalls and misbehaves on request.
"""
