"""A gateway server that listens only on the interface ``GATEWAY_LISTEN`` names.

LocalStack's built-in ``twisted`` server takes the port from ``GATEWAY_LISTEN`` but binds every
IPv4 interface (``0.0.0.0``) whatever host is configured (a TODO in its source). An emulator that
accepts unauthenticated AWS calls must not be reachable from the network, so this server passes
the configured host as the listening interface. Everything else (TLS and plain HTTP multiplexed
on one port, the thread pool, shutdown) is the built-in server's. Select it with
``GATEWAY_SERVER=twisted-loopback``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localstack.aws.serving.twisted import TLSMultiplexerFactory
from localstack.runtime.server.core import RuntimeServer, RuntimeServerPlugin
from localstack.runtime.server.twisted import TwistedRuntimeServer
from rolo.serving.twisted import TwistedGateway
from twisted.internet import endpoints, reactor, ssl

if TYPE_CHECKING:
    from localstack import config
    from rolo.gateway import Gateway


class LoopbackTwistedRuntimeServer(TwistedRuntimeServer):
    """The built-in Twisted server, bound to the configured host instead of all interfaces."""

    def register(
        self,
        gateway: Gateway,
        listen: list[config.HostAndPort],
        ssl_creds: tuple[str, str] | None = None,
    ) -> None:
        site = TwistedGateway(gateway)
        protocol_factory: object = site
        if ssl_creds:
            cert_file_name, key_file_name = ssl_creds
            context_factory = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
            context_factory.getContext().use_certificate_chain_file(cert_file_name)
            # Both implement the expected zope interfaces, which mypy sees only with a plugin.
            protocol_factory = TLSMultiplexerFactory(context_factory, False, site)  # type: ignore[arg-type]

        for host_and_port in listen:
            endpoint_type = (
                endpoints.TCP6ServerEndpoint
                if ":" in host_and_port.host
                else endpoints.TCP4ServerEndpoint
            )
            endpoint = endpoint_type(reactor, host_and_port.port, interface=host_and_port.host)
            endpoint.listen(protocol_factory)


class LoopbackTwistedRuntimeServerPlugin(RuntimeServerPlugin):
    """Plugin in ``localstack.runtime.server`` (selected by ``GATEWAY_SERVER``)."""

    name = "twisted-loopback"

    def load(self, *args: object, **kwargs: object) -> RuntimeServer:
        return LoopbackTwistedRuntimeServer()
