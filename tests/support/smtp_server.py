#!/usr/bin/python3
"""A real SMTP server on loopback for the tests (Debian's python3-aiosmtpd).

Every message accepted is written, whole, to DIR as <n>.eml, with the envelope
recipients in a first line `X-Rcpt-To:`. Recipients containing a --reject pattern get
550, those containing a --tempfail pattern get 451. Prints the port it listens on,
then serves until killed.

Usage: smtp_server.py DIR [--port N] [--reject PATTERN]... [--tempfail PATTERN]...
"""
import argparse
import asyncio
import itertools
import os
import sys

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, folder, reject, tempfail):
        self.folder = folder
        self.reject = reject
        self.tempfail = tempfail
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if any(p in address for p in self.reject):
            return "550 5.1.1 <%s>: no such mailbox here" % address
        if any(p in address for p in self.tempfail):
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        path = os.path.join(self.folder, "%d-%08d.eml" % (os.getpid(), n))
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"X-Rcpt-To: " + ", ".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content)
        os.rename(tmp, path)
        return "250 2.0.0 OK: queued as %d" % n


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--tempfail", action="append", default=[])
    args = parser.parse_args()
    handler = Handler(args.folder, args.reject, args.tempfail)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp.test", data_size_limit=10 * 1024 * 1024),
        "127.0.0.1",
        args.port,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
