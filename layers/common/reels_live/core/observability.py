"""One Logger, Tracer and Metrics per container (service, level and namespace come from the environment)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
