"""PostgreSQL wire protocol (v3) framing and the few messages the proxy writes itself.

Our own small codec rather than a library: a proxy that must be invisible forwards the bytes
it received, it does not decode and re-encode them. The upstream direction carries the big
results (a 2M-row SELECT is 2M DataRow messages), so there the proxy only steps from header
to header and copies the bodies of the handful of message kinds it tracks; the bytes go on
as they came. The libraries on PyPI (pygwire, riffq, buenavista) decode every message into
objects or are servers for other engines, and pygwire, the closest fit, is a beta that
needs Python 3.11 while this project supports 3.10.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_LENGTH = struct.Struct("!I")
_CODE = struct.Struct("!I")

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_MAJOR = 3

TEXT_OID, BOOL_OID = 25, 16


@dataclass
class Message:
    """One typed message: its kind byte and its body (without the length word)."""

    kind: int
    body: bytes
    end: int = 0  # FrameScanner: the offset just after this message in the data that completed it

    def wire(self) -> bytes:
        return encode(self.kind, self.body)


def encode(kind: int | bytes, body: bytes = b"") -> bytes:
    """A typed message as it goes on the wire: kind, length (itself included), body."""
    kind_byte = kind if isinstance(kind, bytes) else bytes((kind,))
    return kind_byte + _LENGTH.pack(len(body) + 4) + body


class FrameScanner:
    """Follows message boundaries in a stream that is forwarded unchanged.

    ``feed`` returns the complete messages of the ``wanted`` kinds; every other message is
    stepped over without copying, even when it spans several reads.
    """

    def __init__(self, wanted: Iterable[int]) -> None:
        self.wanted = frozenset(wanted)
        self._header = b""  # the start of a header cut by the end of a read
        self._kind = 0
        self._remaining = 0  # body bytes of the current message still to come
        self._body: bytearray | None = None  # collected only for wanted kinds

    def feed(self, data: bytes) -> list[Message]:
        found: list[Message] = []
        pos, size = 0, len(data)
        wanted, unpack = self.wanted, _LENGTH.unpack_from
        while pos < size:
            if self._remaining:
                take = min(self._remaining, size - pos)
                if self._body is not None:
                    self._body += data[pos : pos + take]
                pos += take
                self._remaining -= take
                if not self._remaining and self._body is not None:
                    found.append(Message(self._kind, bytes(self._body), pos))
                    self._body = None
                continue
            if self._header:
                need = 5 - len(self._header)
                self._header += data[pos : pos + need]
                pos += need
                if len(self._header) < 5:
                    break
                kind, length = self._header[0], unpack(self._header, 1)[0]
                self._header = b""
            else:
                # The fast path: whole messages inside this read, headers only.
                while pos + 5 <= size:
                    kind = data[pos]
                    end = pos + 1 + _length(unpack(data, pos + 1)[0])
                    if end > size:
                        break
                    if kind in wanted:
                        found.append(Message(kind, data[pos + 5 : end], end))
                    pos = end
                if pos == size:
                    break
                if pos + 5 > size:
                    self._header = data[pos:]
                    break
                kind, length = data[pos], unpack(data, pos + 1)[0]
                pos += 5
            self._start(kind, length - 4, found, pos)
        return found

    def _start(self, kind: int, body_length: int, found: list[Message], pos: int) -> None:
        self._kind, self._remaining = kind, body_length
        self._body = bytearray() if kind in self.wanted else None
        if not body_length and self._body is not None:
            found.append(Message(kind, b"", pos))
            self._body = None


class FrameReader:
    """Whole messages from a stream read message by message (the bridge's psycopg side): a
    buffer of bytes in, complete messages out, the rest kept for the next read."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages: list[Message] = []
        pos, size, buffer = 0, len(self._buffer), self._buffer
        while pos + 5 <= size:
            end = pos + 1 + _LENGTH.unpack_from(buffer, pos + 1)[0]
            if end > size:
                break
            messages.append(Message(buffer[pos], bytes(buffer[pos + 5 : end])))
            pos = end
        del buffer[:pos]
        return messages


class ProtocolError(ValueError):
    """A client message PostgreSQL would refuse to frame (a length below 4): the connection ends."""


def _length(value: int) -> int:
    if value < 4:
        raise ProtocolError("invalid message length")
    return value


class ClientStream:
    """The client's messages: the ``inspected`` kinds whole, everything else as the bytes it came as.

    ``feed`` returns, in order, ``bytes`` to forward unchanged (CopyData and the other kinds
    the proxy never needs to read, even cut anywhere by the reads) and complete ``Message``s
    of the inspected kinds (Query, Parse, Bind, Sync...: small control messages), whose
    bytes are held until they are whole, since the proxy may answer them itself.
    """

    def __init__(self, inspected: Iterable[int]) -> None:
        self.inspected = frozenset(inspected)
        self._held = bytearray()  # a header cut by a read, or an inspected message still incomplete
        self._need = 0  # the held message's whole length, once its header is known
        self._skip = 0  # bytes of a passed-through message still to come

    def feed(self, data: bytes) -> list[bytes | Message]:
        pieces: list[bytes | Message] = []
        pos, size = 0, len(data)
        if self._skip:
            take = min(self._skip, size)
            pieces.append(data if take == size else data[:take])
            self._skip -= take
            pos = take
        while self._held and pos < size:
            if len(self._held) < 5:
                take = min(5 - len(self._held), size - pos)
                self._held += data[pos : pos + take]
                pos += take
                if len(self._held) < 5:
                    return pieces
                kind, length = self._held[0], _length(_LENGTH.unpack_from(self._held, 1)[0])
                if kind not in self.inspected:
                    pieces.append(bytes(self._held))
                    self._held = bytearray()
                    take = min(length - 4, size - pos)
                    pieces.append(data[pos : pos + take])
                    self._skip = length - 4 - take
                    pos += take
                    break
                self._need = 1 + length
            take = min(self._need - len(self._held), size - pos)
            self._held += data[pos : pos + take]
            pos += take
            if len(self._held) == self._need:
                held = self._held
                pieces.append(Message(held[0], bytes(held[5:])))
                self._held = bytearray()
        if self._skip or self._held:
            return pieces
        run, inspected, unpack = pos, self.inspected, _LENGTH.unpack_from
        while pos < size:
            if pos + 5 > size:
                if run < pos:
                    pieces.append(data[run:pos])
                self._held = bytearray(data[pos:])
                return pieces
            kind = data[pos]
            end = pos + 1 + _length(unpack(data, pos + 1)[0])
            if kind in inspected:
                if run < pos:
                    pieces.append(data[run:pos])
                if end > size:
                    self._held, self._need = bytearray(data[pos:]), end - pos
                    return pieces
                pieces.append(Message(kind, data[pos + 5 : end]))
                run = pos = end
                continue
            if end > size:
                self._skip = end - size
                pos = size
                break
            pos = end
        if run < size:
            pieces.append(data if run == 0 else data[run:])
        return pieces


@dataclass
class Startup:
    """The first packet of a connection, which has no kind byte: a startup or a request code."""

    code: int
    raw: bytes  # the whole packet, length included, to forward unchanged
    parameters: dict[str, str]

    @property
    def user(self) -> str:
        return self.parameters.get("user", "")

    @property
    def database(self) -> str:
        return self.parameters.get("database") or self.user


def parse_startup(raw: bytes) -> Startup:
    """``raw`` is the whole packet; parameters are read only from a protocol-3 startup."""
    code = _CODE.unpack_from(raw, 4)[0]
    parameters: dict[str, str] = {}
    if code >> 16 == PROTOCOL_MAJOR:
        fields = raw[8:].split(b"\0")
        for name, value in zip(fields[0::2], fields[1::2]):
            if name:
                parameters[name.decode(errors="replace")] = value.decode(errors="replace")
    return Startup(code, raw, parameters)


def cstring(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding, errors="replace") + b"\0"


def read_cstring(body: bytes, pos: int = 0) -> tuple[bytes, int]:
    """The NUL-terminated string at ``pos`` and the position after it."""
    end = body.index(b"\0", pos)
    return body[pos:end], end + 1


def query_text(message: Message) -> bytes:
    """The SQL of a Query ('Q') message."""
    return read_cstring(message.body)[0]


def parse_fields(message: Message) -> tuple[bytes, bytes, bytes]:
    """A Parse ('P') message: statement name, SQL, and the rest (parameter types) as bytes."""
    name, pos = read_cstring(message.body)
    sql, pos = read_cstring(message.body, pos)
    return name, sql, message.body[pos:]


def parse_message(name: bytes, sql: bytes, rest: bytes) -> Message:
    return Message(ord("P"), name + b"\0" + sql + b"\0" + rest)


@dataclass
class Bind:
    portal: bytes
    statement: bytes
    parameters: int
    result_formats: tuple[int, ...]


def parse_bind(message: Message) -> Bind:
    """A Bind ('B') message: portal, statement, the number of parameters, result formats."""
    body = message.body
    portal, pos = read_cstring(body)
    statement, pos = read_cstring(body, pos)
    (count,) = struct.unpack_from("!H", body, pos)
    pos += 2 + 2 * count
    (parameters,) = struct.unpack_from("!H", body, pos)
    pos += 2
    for _ in range(parameters):
        (length,) = struct.unpack_from("!i", body, pos)
        pos += 4 + max(length, 0)
    (count,) = struct.unpack_from("!H", body, pos)
    formats = struct.unpack_from(f"!{count}h", body, pos + 2)
    return Bind(portal, statement, parameters, formats)


def target(message: Message) -> tuple[bytes, bytes]:
    """Describe ('D') and Close ('C'): b'S' or b'P', and the statement's or portal's name."""
    return message.body[:1], read_cstring(message.body, 1)[0]


def execute_fields(message: Message) -> tuple[bytes, int]:
    """An Execute ('E') message: the portal and the most rows to return (0: all)."""
    portal, pos = read_cstring(message.body)
    return portal, _CODE.unpack_from(message.body, pos)[0]


# -- messages the proxy writes itself ---------------------------------------------------------------
def authentication(code: int) -> bytes:
    return encode(b"R", _CODE.pack(code))


def parameter_status(name: str, value: str) -> bytes:
    return encode(b"S", cstring(name) + cstring(value))


def ready_for_query(status: bytes) -> bytes:
    return encode(b"Z", status)


SYNC = encode(b"S")
PARSE_COMPLETE, BIND_COMPLETE, CLOSE_COMPLETE = encode(b"1"), encode(b"2"), encode(b"3")
NO_DATA, PORTAL_SUSPENDED = encode(b"n"), encode(b"s")
NO_PARAMETERS = encode(b"t", b"\0\0")


def row_description(columns: Sequence[tuple[str, int]], encoding: str = "utf-8", binary: bool = False) -> bytes:
    """Columns (name, type oid), all in text format or all in binary."""
    body = bytearray(struct.pack("!H", len(columns)))
    for name, oid in columns:
        body += cstring(name, encoding) + struct.pack("!IhIhih", 0, 0, oid, -1, -1, 1 if binary else 0)
    return encode(b"T", bytes(body))


def data_row(values: Sequence[str | bytes | None], encoding: str = "utf-8") -> bytes:
    """Text values are encoded in ``encoding``; bytes (binary format) go as they are."""
    body = bytearray(struct.pack("!H", len(values)))
    for value in values:
        if value is None:
            body += struct.pack("!i", -1)
        else:
            data = value if isinstance(value, bytes) else value.encode(encoding, errors="replace")
            body += struct.pack("!i", len(data)) + data
    return encode(b"D", bytes(body))


def command_complete(tag: str) -> bytes:
    return encode(b"C", cstring(tag))


def response(kind: bytes, fields: dict[str, str], encoding: str = "utf-8") -> bytes:
    """An ErrorResponse ('E') or NoticeResponse ('N'): one-letter field codes to values."""
    body = b"".join(code.encode() + cstring(value, encoding) for code, value in fields.items() if value is not None)
    return encode(kind, body + b"\0")


def error(message: str, sqlstate: str = "XX000", severity: str = "ERROR", encoding: str = "utf-8", **extra: str) -> bytes:
    return response(b"E", {"S": severity, "V": severity, "C": sqlstate, "M": message, **extra}, encoding)


def notice(message: str, encoding: str = "utf-8", **extra: str) -> bytes:
    return response(b"N", {"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": message, **extra}, encoding)
