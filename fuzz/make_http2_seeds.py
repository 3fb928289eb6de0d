#!/usr/bin/python3
"""Writes the seed corpus of http2_codec_fuzz (fuzz/seeds/http2_codec/):
client connections made by python3-h2, as a browser or Outlook would open
them, and a few a hostile client would send, each in the target's input
format (a piece size, the server's behaviour, then the bytes after the
client preface).
    /usr/bin/python3 fuzz/make_http2_seeds.py
"""
import os
import struct

import h2.config
import h2.connection
import h2.settings
import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "http2_codec")


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream) + payload


def client():
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    return c


def head(method, path, *extra):
    return [(":method", method), (":scheme", "https"), (":authority", "mail.example.com"),
            (":path", path)] + list(extra)


def owa_get():
    c = client()
    c.send_headers(1, head("GET", "/owa/", ("cookie", "a=1"), ("cookie", "b=2"),
                           ("user-agent", "Mozilla/5.0")), end_stream=True)
    c.send_headers(3, head("GET", "/owa/auth/logon.aspx"), end_stream=True)
    return c.data_to_send()


def ews_post_with_trailers():
    c = client()
    c.send_headers(1, head("POST", "/EWS/Exchange.asmx", ("content-type", "text/xml")))
    c.send_data(1, b"<soap:Envelope/>" * 20)
    c.send_headers(1, [("x-checksum", "42")], end_stream=True)
    return c.data_to_send()


def activesync_streams_and_window():
    c = client()
    for i in range(5):
        sid = 1 + 2 * i
        c.send_headers(sid, head("POST", f"/Microsoft-Server-ActiveSync?Cmd=Ping&i={i}",
                                 ("content-length", "4")))
        c.send_data(sid, b"ping", end_stream=True)
    c.increment_flow_control_window(1 << 20)
    c.ping(b"12345678")
    c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
    return c.data_to_send()


def cancelled():
    c = client()
    c.send_headers(1, head("GET", "/mapi/emsmdb/"), end_stream=False)
    c.reset_stream(1)
    c.send_headers(3, head("GET", "/rpc/rpcproxy.dll"), end_stream=True)
    c.close_connection()
    return c.data_to_send()


def hostile():
    # A well-behaved start, then frames made by hand.
    start = client().data_to_send()[len(PREFACE):]
    return {
        "rapid_reset": start + b"".join(
            frame(1, 4, sid, hpack_get()) + frame(3, 0, sid, struct.pack(">I", 8))
            for sid in range(1, 41, 2)),
        "settings_flood": start + frame(4, 0, 0) * 120,
        "ping_flood": start + frame(6, 0, 0, b"pingpong") * 120,
        "continuation_flood": start + frame(1, 1, 1, hpack_get()) + frame(9, 0, 1) * 20,
        "data_on_stream_zero": start + frame(0, 0, 0, b"x"),
        "big_header": start + frame(1, 5, 1, hpack_get(("x-big", "b" * 5000))),
    }


def hpack_get(*extra):
    return hpack.Encoder().encode(head("GET", "/", *extra))


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "owa_get": (16, 1, owa_get()),
        "ews_post_with_trailers": (64, 1, ews_post_with_trailers()),
        "activesync_streams_and_window": (255, 3, activesync_streams_and_window()),
        "cancelled": (32, 5, cancelled()),
    }
    for name, data in hostile().items():
        seeds[name] = (255, 1, data)
    for name, (piece, behaviour, data) in seeds.items():
        if data.startswith(PREFACE):
            data = data[len(PREFACE):]
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(bytes([piece - 1, behaviour]) + data)
    print(f"{len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
