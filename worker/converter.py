"""A pydantic payload converter whose type adapters are built once per process.

temporalio 1.35 builds a fresh data converter (and with it a ``PydanticPayloadConverter``
with an empty type-adapter cache) for each workflow activation on a live worker. Building
the adapter for a model activity's result (``list[StreamEvent]``, nested TypedDicts) takes
~8 ms, so every turn paid for it again (~9% of the worker's CPU under load). This converter
does the same conversions with one process-wide cache.
"""

import functools
from typing import Any

from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)


@functools.lru_cache(maxsize=1024)
def shared_type_adapter(type_hint: Any) -> TypeAdapter[Any]:
    """The type adapter for ``type_hint``, built on first use and kept."""
    return TypeAdapter(type_hint)


class SharedAdapterJSONConverter(PydanticJSONPlainPayloadConverter):
    """Pydantic JSON conversion using :func:`shared_type_adapter`."""

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        """Validate the JSON into ``type_hint`` (``Any`` when absent)."""
        hint: Any = Any if type_hint is None else type_hint
        try:
            adapter = shared_type_adapter(hint)
        except TypeError:
            adapter = TypeAdapter(hint)  # an unhashable hint cannot be cached
        return adapter.validate_json(payload.data)


class SharedAdapterPydanticPayloadConverter(CompositePayloadConverter):
    """``PydanticPayloadConverter`` with the process-wide type-adapter cache."""

    def __init__(self) -> None:
        """The default encoding converters, with JSON handled by pydantic."""
        json_converter = SharedAdapterJSONConverter()
        super().__init__(
            *(
                json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )
