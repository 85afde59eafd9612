"""The social graph: profiles (`profiles`), follows and their lists (`follows`), push devices (`devices`),
and their API schemas (`schemas`).

May import: `core`, `entities`, `store`, `integrations`. Never `api`.
"""
