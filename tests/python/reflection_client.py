"""A gRPC client that knows nothing of distgo-db but what reflection tells it.

Run by tests/python_reflection.rs:

    python3 tests/python/reflection_client.py HOST:PORT v1alpha|v1 DATABASE_NAME

It lists the server's services, builds the message classes of
DatabaseService.GetDatabase and Health.Check from the descriptors the
server sent, calls both, and prints one JSON object:

    {"services": [...], "database": {...}, "health": {"": "SERVING", ...}}

This is how grpcurl, Postman and IDE plugins work, and what a worker must
support for them: reflection in the client's protocol version, every served
service in the list (health included), and each file's dependencies
(google/protobuf/timestamp.proto, ...) resolvable by name.
"""

import json
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

V1_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


class V1Stub:
    """The v1 reflection method with v1alpha's message classes.

    grpcio-reflection ships a client for v1alpha only. The v1 protocol's
    messages are v1alpha's byte for byte (same fields, same numbers) under
    another package name, so only the method path differs.
    """

    def __init__(self, channel):
        self.ServerReflectionInfo = channel.stream_stream(
            V1_METHOD,
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )


class V1ReflectionDatabase(ProtoReflectionDescriptorDatabase):
    """grpcio-reflection's descriptor database, speaking reflection v1."""

    def __init__(self, channel):
        super().__init__(channel)
        # The one stub the database sends its requests through.
        self._stub = V1Stub(channel)


def call(channel, pool, service, method, fields):
    """Calls service/method with a request built from reflected descriptors."""
    descriptor = pool.FindServiceByName(service).methods_by_name[method]
    request_class = message_factory.GetMessageClass(descriptor.input_type)
    response_class = message_factory.GetMessageClass(descriptor.output_type)
    rpc = channel.unary_unary(
        f"/{service}/{method}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    reply = rpc(request_class(**fields), timeout=10)
    return json_format.MessageToDict(reply, preserving_proto_field_name=True)


def main(address, version, database_name):
    with grpc.insecure_channel(address) as channel:
        if version == "v1alpha":
            database = ProtoReflectionDescriptorDatabase(channel)
        elif version == "v1":
            database = V1ReflectionDatabase(channel)
        else:
            raise SystemExit(f"unknown reflection version {version!r}")
        services = list(database.get_services())
        pool = descriptor_pool.DescriptorPool(database)
        got = call(
            channel, pool, "worker.database.v1.DatabaseService", "GetDatabase",
            {"name": database_name},
        )
        health = {}
        for name in [""] + [s for s in services if not s.startswith("grpc.")]:
            reply = call(channel, pool, "grpc.health.v1.Health", "Check", {"service": name})
            health[name] = reply.get("status", "UNKNOWN")
    print(json.dumps({"services": services, "database": got, "health": health}))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
