#!/usr/bin/python3
"""A real SMTP server on loopback for the tests (Debian's python3-aiosmtpd).

Every message accepted is written, whole, to DIR as <n>.eml, with three header lines
before it: `X-Rcpt-To:` (the envelope recipients), `X-Tls:` (`starttls TLSv1.3`,
`implicit TLSv1.3` or `none`: how the session that carried it was encrypted) and
`X-Login:` (the user it logged in as, or `none`). Recipients containing a --reject
pattern get 550, those containing a --tempfail pattern get 451. Prints the port it
listens on, then serves until killed.

--tls starttls offers STARTTLS and refuses mail until it was used; --tls implicit
speaks TLS from the first byte (smtps). Both present --cert and --key (PEM). --login
USER:PASSWORD requires that login (PLAIN or LOGIN) before mail; other credentials get
535. Over STARTTLS, AUTH is offered only once the session is encrypted.

Usage: smtp_server.py DIR [--port N] [--reject PATTERN]... [--tempfail PATTERN]...
                      [--tls starttls|implicit --cert PEM --key PEM] [--login USER:PASSWORD]
"""
import argparse
import asyncio
import itertools
import logging
import os
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, TLSSetupException


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
            f.write(b"X-Tls: " + tls(server, session).encode() + b"\r\n")
            f.write(b"X-Login: " + login(session).encode() + b"\r\n")
            f.write(envelope.original_content)
        os.rename(tmp, path)
        return "250 2.0.0 OK: queued as %d" % n


def tls(server, session):
    """How the session is encrypted. aiosmtpd sets `session.ssl` only after STARTTLS;
    the transport knows about implicit TLS too."""
    ssl_object = server.transport.get_extra_info("ssl_object") if server.transport else None
    if ssl_object is None:
        return "none"
    how = "starttls" if session.ssl is not None else "implicit"
    return "%s %s" % (how, ssl_object.version())


def login(session):
    data = session.auth_data
    if not session.authenticated or not isinstance(data, LoginPassword):
        return "none"
    return data.login.decode()


class RefusedHandshakes(logging.Filter):
    """A client that does not trust the certificate ends STARTTLS with an alert, which
    aiosmtpd logs as a session exception with a traceback. Tests expect it."""

    def filter(self, record):
        return not (record.exc_info and isinstance(record.exc_info[1], TLSSetupException))


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        if not ok:
            # Not handled here: aiosmtpd answers 535 itself.
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=auth_data)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--tempfail", action="append", default=[])
    parser.add_argument("--tls", choices=["starttls", "implicit"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--login")
    args = parser.parse_args()
    # aiosmtpd warns that auth_require_tls is off (see below) and that a property it
    # reads itself is deprecated; its errors still show.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    logging.getLogger("mail.log").addFilter(RefusedHandshakes())
    handler = Handler(args.folder, args.reject, args.tempfail)

    context = None
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
    options = {}
    if args.tls == "starttls":
        options.update(tls_context=context, require_starttls=True)
    if args.login:
        user, password = args.login.split(":", 1)
        # Over implicit TLS the session is encrypted from the start, but aiosmtpd only
        # counts STARTTLS as encryption, so it must not insist on it there.
        options.update(
            authenticator=Authenticator(user, password),
            auth_required=True,
            auth_require_tls=args.tls != "implicit",
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp.test", data_size_limit=10 * 1024 * 1024, **options),
        "127.0.0.1",
        args.port,
        ssl=context if args.tls == "implicit" else None,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
