"""Stream lifecycle: start, read, admit and end a stream (`lifecycle`), the lists of streams (`listings`),
and their API schemas (`schemas`).

May import: `core`, `entities`, `store`, `integrations`. Never `api`.
"""
