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
