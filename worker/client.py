"""Building the Temporal client every Convoflow process uses (worker, CLI, gateway, tests)."""

import dataclasses
import logging
from collections.abc import Callable

from strands.models import Model
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import (
    DataConverter,
)
from temporalio.plugin import SimplePlugin
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.strands_agents import StrandsPlugin

from activities.providers import ProviderFactory, model_factories
from models.settings import Settings
from worker._compat import StrandsFailureConverter
from worker.codec import EncryptionCodec, codec_from_settings
from worker.converter import SharedAdapterPydanticPayloadConverter
from worker.failures import ENCODED_FAILURE_CONVERTERS, SessionFailureConverter

log = logging.getLogger("convoflow.client")


def strands_plugin(
    settings: Settings, extra_providers: dict[str, ProviderFactory] | None = None
) -> StrandsPlugin:
    """The Strands plugin with every registered provider bound to ``settings``.

    It also installs the pydantic payload converter and Strands' failure converter, which
    is why no ``data_converter`` is passed anywhere.
    """
    models: dict[str, Callable[[], Model]] = model_factories(settings, extra_providers)
    return StrandsPlugin(models=models)


class EncryptionPlugin(SimplePlugin):
    """Adds the payload codec to whatever data converter the plugins before it built.

    Put it after the Strands plugin: that one installs the pydantic payload converter and
    Strands' failure converter; this one keeps both, sets ``payload_codec`` and (with
    ``encode_failures``) swaps the failure converter for its encoded-attributes variant.
    It configures clients and replayers; workers use their client's converter.
    """

    def __init__(self, codec: EncryptionCodec, *, encode_failures: bool = True) -> None:
        self.codec = codec
        self.encode_failures = encode_failures
        super().__init__("convoflow.EncryptionPlugin", data_converter=self._data_converter)

    def _data_converter(self, converter: DataConverter | None) -> DataConverter:
        converter = converter or DataConverter.default
        failure_class = converter.failure_converter_class
        if self.encode_failures:
            encoded = ENCODED_FAILURE_CONVERTERS.get(failure_class)
            if encoded is not None:
                failure_class = encoded
            elif failure_class not in ENCODED_FAILURE_CONVERTERS.values():
                log.warning(
                    "failure converter %s is not known: failure messages stay in plaintext",
                    failure_class.__name__,
                )
        return dataclasses.replace(
            converter, payload_codec=self.codec, failure_converter_class=failure_class
        )


def encryption_plugin(settings: Settings) -> EncryptionPlugin | None:
    """The encryption plugin when codec keys are configured, else None."""
    codec = codec_from_settings(settings)
    if codec is None:
        return None
    return EncryptionPlugin(codec, encode_failures=settings.codec.codec_encode_failures)


class SharedAdapterConverterPlugin(SimplePlugin):
    """Swaps the converters the Strands plugin installed for ours: the same pydantic
    conversions with a process-wide type-adapter cache (see ``worker.converter``), and
    Strands' failure converter plus our rules (see ``worker.failures``)."""

    def __init__(self) -> None:
        super().__init__(
            "convoflow.SharedAdapterConverterPlugin", data_converter=self._data_converter
        )

    @staticmethod
    def _data_converter(converter: DataConverter | None) -> DataConverter:
        converter = converter or DataConverter.default
        if converter.payload_converter_class is PydanticPayloadConverter:
            converter = dataclasses.replace(
                converter, payload_converter_class=SharedAdapterPydanticPayloadConverter
            )
        if converter.failure_converter_class is StrandsFailureConverter:
            converter = dataclasses.replace(
                converter, failure_converter_class=SessionFailureConverter
            )
        return converter


def client_plugins(
    settings: Settings, extra_providers: dict[str, ProviderFactory] | None = None
) -> list[SimplePlugin]:
    """Every client plugin, in order: Strands, the converter cache, encryption (if keys)."""
    plugins: list[SimplePlugin] = [
        strands_plugin(settings, extra_providers),
        SharedAdapterConverterPlugin(),
    ]
    encryption = encryption_plugin(settings)
    if encryption is not None:
        plugins.append(encryption)
    return plugins


# One Temporal runtime per metrics address: a Prometheus endpoint can be bound only once.
_METRICS_RUNTIMES: dict[str, Runtime] = {}


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime serving Prometheus metrics on ``metrics_host:metrics_port``, if a port is set.

    Workers on clients built with it export the SDK's metrics (``temporal_*``) and the
    session workflow's own (``convoflow_*``, see ``workflows.metrics``) at ``/metrics``.
    """
    if settings.metrics.metrics_port is None:
        return None
    address = f"{settings.metrics.metrics_host}:{settings.metrics.metrics_port}"
    runtime = _METRICS_RUNTIMES.get(address)
    if runtime is None:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
        _METRICS_RUNTIMES[address] = runtime
        log.info("Prometheus metrics on http://%s/metrics", address)
    return runtime


async def connect_client(
    settings: Settings,
    extra_providers: dict[str, ProviderFactory] | None = None,
    *,
    metrics: bool = False,
) -> Client:
    """Connect to Temporal with the Strands plugin on the client (workers inherit it), plus
    the payload encryption codec when keys are configured (``CONVOFLOW_CODEC_KEY_FILE``).

    This is the one way every process connects: address, namespace, TLS, mTLS and API key
    come from ``worker.connection`` (our settings, the ``TEMPORAL_*`` variables and the TOML
    profile). A wrong certificate, key, CA or API key raises ``ConnectionConfigError``, one
    line naming the setting; an unreachable address raises the SDK's ``RuntimeError``.

    With ``metrics`` (worker processes) and ``CONVOFLOW_METRICS_PORT`` set, the client's
    runtime serves Prometheus metrics; other processes never bind that port."""
    # Imported here: worker.connection imports the client package, which imports this module.
    from worker.connection import connection_options, explain_connect_error

    options = connection_options(settings)
    try:
        return await Client.connect(
            options.target_host,
            namespace=options.namespace,
            api_key=options.api_key,
            tls=options.tls,
            rpc_metadata=options.rpc_metadata,
            plugins=client_plugins(settings, extra_providers),
            runtime=metrics_runtime(settings) if metrics else None,
        )
    except RuntimeError as err:
        explained = explain_connect_error(options, err)
        if explained is None:
            raise
        raise explained from None
