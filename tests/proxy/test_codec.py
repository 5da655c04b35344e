"""The client-side stream: whatever the reads cut, the bytes forwarded plus the messages held
are the stream itself, and the inspected kinds come out whole."""

from __future__ import annotations

import random

from nl2sql_shell.proxy import codec


def _stream(seed: int) -> tuple[bytes, list[bytes]]:
    rng = random.Random(seed)
    messages = [codec.encode(rng.choice(b"QPBdSdcHE"), rng.randbytes(rng.choice([0, 1, 3, 50, 300, 70_000]))) for _ in range(400)]
    return b"".join(messages), messages


def test_client_stream_keeps_the_bytes_and_cuts_whole_messages():
    data, messages = _stream(1)
    rng = random.Random(2)
    for _ in range(20):
        stream = codec.ClientStream(b"QPBSE")
        forwarded, inspected, pos = [], [], 0
        while pos < len(data):
            size = rng.choice([1, 2, 3, 5, 6, 64, 1000, 1 << 16])
            for piece in stream.feed(data[pos : pos + size]):
                if isinstance(piece, codec.Message):
                    inspected.append(piece.wire())
                    forwarded.append(piece.wire())
                else:
                    forwarded.append(piece)
            pos += size
        assert b"".join(forwarded) == data
        assert inspected == [m for m in messages if m[0] in b"QPBSE"]


def test_copy_data_in_one_read_passes_as_the_same_object():
    copy = codec.encode(b"d", b"1\tone\n") * 100
    assert codec.ClientStream(b"QPBSE").feed(copy) == [copy]


def test_frame_scanner_reports_where_a_message_ends():
    data = codec.encode(b"D", b"x" * 10) + codec.ready_for_query(b"I")
    scanner = codec.FrameScanner(b"Z")
    first, second = scanner.feed(data[:-3]), scanner.feed(data[-3:])
    assert first == [] and [(chr(m.kind), m.body, m.end) for m in second] == [("Z", b"I", 3)]
    assert [m.end for m in codec.FrameScanner(b"Z").feed(data)] == [len(data)]


def test_bind_and_execute_fields():
    body = b"portal\0stmt\0" + b"\0\1\0\0" + b"\0\1" + b"\0\0\0\3abc" + b"\0\2\0\1\0\0"
    bind = codec.parse_bind(codec.Message(ord("B"), body))
    assert (bind.portal, bind.statement, bind.parameters, bind.result_formats) == (b"portal", b"stmt", 1, (1, 0))
    assert codec.execute_fields(codec.Message(ord("E"), b"p\0\0\0\0\5")) == (b"p", 5)
