"""The only package that knows the table's keys and talks to DynamoDB (access patterns in README).

`keys` spells every key; `table`, `batch` and `cursors` are the shared mechanics; one module per group of
items: `streams`, `live`, `listings`, `profiles`, `follows`, `preferences`, `devices`, `inbox`,
`notifications`, `idempotency`.

May import: `core` and `entities` only.
"""
