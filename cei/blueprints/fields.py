"""Fields that several API areas share, documented once."""

import marshmallow as ma
from marshmallow import validate

from cei.services.identifiers import ID_PATTERN, MAX_ID_LENGTH

ID_RULE = "1-100 characters, no '/', no control characters, no space at either end"


def external_id(description, validators=(), **kwargs):
    """A ``site_id`` or ``meter_id`` string, documented with the identifier rule.

    The OpenAPI document gets the rule as ``pattern`` and ``maxLength``
    (:mod:`cei.services.identifiers`); the services still decide.
    """
    metadata = {"description": f"{description}; {ID_RULE}", "pattern": ID_PATTERN}
    metadata.update(kwargs.pop("metadata", {}))
    return ma.fields.String(
        validate=[validate.Length(min=1, max=MAX_ID_LENGTH), *validators],
        metadata=metadata,
        **kwargs,
    )


class JsonBoolean(ma.fields.Boolean):
    """A JSON ``true`` or ``false``: not 1, "yes" or "on", which marshmallow would take."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value


class JsonNumber(ma.fields.Float):
    """A JSON number: not a string holding one, which marshmallow would take."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)
