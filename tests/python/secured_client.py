"""A grpcio client against a secured distgo-db worker.

Run by tests/python.rs, which starts the workers and makes the certificates;
each check prints one line and the script exits non-zero if any failed.
No generated stubs: requests and responses are the protobuf bytes, written
out below, so the script needs grpcio and nothing else.

    python3 secured_client.py CHECK ADDRESS CA_PEM [CLIENT_CERT CLIENT_KEY] [TOKENS...]
"""

import sys

import grpc

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
LIST_DATABASES = "/worker.database.v1.DatabaseService/ListDatabases"
CREATE_DATABASE = "/worker.database.v1.DatabaseService/CreateDatabase"
# HealthCheckResponse { status: SERVING (1) }
SERVING = b"\x08\x01"


def create_database_request(database_id):
    """CreateDatabaseRequest { database_id, database { display_name: "P" } }."""
    ident = database_id.encode()
    database = b"\x12\x01P"
    return b"\x0a" + bytes([len(ident)]) + ident + b"\x12" + bytes([len(database)]) + database


def call(channel, method, request=b"", token=None):
    rpc = channel.unary_unary(method)
    metadata = [("authorization", f"Bearer {token}")] if token else None
    return rpc(request, metadata=metadata, timeout=5)


def code_of(channel, method, request=b"", token=None):
    try:
        call(channel, method, request, token)
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        return err.code()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def secure(address, ca, cert=None, key=None):
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(ca),
        private_key=read(key) if key else None,
        certificate_chain=read(cert) if cert else None,
    )
    return grpc.secure_channel(address, credentials)


def expect(failures, what, actual, expected):
    ok = actual == expected
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {actual} (expected {expected})")
    if not ok:
        failures.append(what)


def main(argv):
    check, address, ca = argv[1], argv[2], argv[3]
    rest = argv[4:]
    failures = []
    if check == "tls":
        with secure(address, ca) as channel:
            response = call(channel, HEALTH_CHECK)
            expect(failures, "health over TLS", response, SERVING)
        with grpc.insecure_channel(address) as channel:
            expect(failures, "a plaintext client", code_of(channel, HEALTH_CHECK), grpc.StatusCode.UNAVAILABLE)
    elif check == "mtls":
        cert, key = rest[0], rest[1]
        with secure(address, ca) as channel:
            expect(failures, "mTLS without a client certificate", code_of(channel, HEALTH_CHECK), grpc.StatusCode.UNAVAILABLE)
        with secure(address, ca, cert, key) as channel:
            expect(failures, "mTLS with a client certificate", call(channel, HEALTH_CHECK), SERVING)
    elif check == "tokens":
        reader, writer = rest[0], rest[1]
        with secure(address, ca) as channel:
            expect(failures, "health without a token", call(channel, HEALTH_CHECK), SERVING)
            expect(failures, "no token", code_of(channel, LIST_DATABASES), grpc.StatusCode.UNAUTHENTICATED)
            expect(failures, "a wrong token", code_of(channel, LIST_DATABASES, token="wrong"), grpc.StatusCode.UNAUTHENTICATED)
            expect(failures, "a read-only token reads", code_of(channel, LIST_DATABASES, token=reader), grpc.StatusCode.OK)
            request = create_database_request("py")
            expect(failures, "a read-only token writes", code_of(channel, CREATE_DATABASE, request, reader), grpc.StatusCode.PERMISSION_DENIED)
            expect(failures, "a read-write token writes", code_of(channel, CREATE_DATABASE, request, writer), grpc.StatusCode.OK)
    else:
        print(f"unknown check {check!r}")
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
