"""How failures cross Temporal: Strands' converter, plus two rules of ours.

1. An activity whose input cannot be decoded can never succeed, however often it is
   retried (pydantic's recursion limit, an unknown encoding): the SDK fails it with a plain,
   retryable ``ApplicationError``; ours marks it non-retryable, so the workflow sees the
   failure at once and records an issue instead of waiting on endless retries.
2. With a codec, message and stack trace move into the encrypted encoded attributes.
"""

from temporalio.api.failure.v1 import Failure
from temporalio.converter import (
    DefaultFailureConverter,
    DefaultFailureConverterWithEncodedAttributes,
    FailureConverter,
    PayloadConverter,
)

from worker._compat import StrandsFailureConverter, is_argument_decode_failure


class SessionFailureConverter(StrandsFailureConverter):
    """Strands' failure converter; an undecodable activity input is never retried."""

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        """Convert as Strands does, then mark argument-decoding failures non-retryable."""
        super().to_failure(exception, payload_converter, failure)
        if is_argument_decode_failure(exception) and failure.HasField("application_failure_info"):
            failure.application_failure_info.non_retryable = True


class EncodedSessionFailureConverter(SessionFailureConverter):
    """:class:`SessionFailureConverter` that also moves message and stack trace into the
    (encrypted) encoded attributes, so error texts are not stored in plaintext."""

    def __init__(self) -> None:
        super().__init__(encode_common_attributes=True)


ENCODED_FAILURE_CONVERTERS: dict[type[FailureConverter], type[FailureConverter]] = {
    SessionFailureConverter: EncodedSessionFailureConverter,
    DefaultFailureConverter: DefaultFailureConverterWithEncodedAttributes,
}
"""Each failure converter we may find installed -> its encoded-attributes variant."""
