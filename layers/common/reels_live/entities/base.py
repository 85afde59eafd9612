"""The pydantic base models every entity and schema uses: camelCase on the wire and in the table."""

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class RequestModel(CamelModel):
    """Request bodies reject unknown fields, so server-owned fields can never be smuggled in."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
