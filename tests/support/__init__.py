"""Test helpers: API Gateway events from events/*.json, handlers found through template.yaml."""
