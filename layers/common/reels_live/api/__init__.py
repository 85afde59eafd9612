"""The HTTP edge: the resolver and its one error envelope (`resolver`, `schemas`), who is calling (`caller`),
shared path parameters (`params`) and `Idempotency-Key` (`idempotency`).

May import: `core`, `entities` and `store` (idempotency records). Never a concern package: handlers wire the
edge to the concern they serve.
"""
