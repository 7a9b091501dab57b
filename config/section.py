"""The base of every configuration section."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every section and sub-section."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
