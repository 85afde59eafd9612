"""The only package that knows the table's keys and talks to DynamoDB (access patterns in README)."""
