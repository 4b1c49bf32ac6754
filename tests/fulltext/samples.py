"""Files the text tests make on the spot: e-mail and mailboxes with the stdlib, HTML and XML bombs."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

BOMB_ENTITIES = "".join(f'<!ENTITY lol{n} "{"".join(f"&lol{n - 1};" for _ in range(10))}">' for n in range(1, 10))
# A billion laughs: &lol9; would expand to 10^9 copies of "lol" (3 GB) if any parser expanded it.
XML_BOMB = (
    f'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol0 "lol">{BOMB_ENTITIES}]>\n'
    "<lolz><title>Harbour survey</title><p>&lol9;</p><p>tide tables</p></lolz>\n"
)
HTML_BOMB = (
    f'<!DOCTYPE html [<!ENTITY lol0 "lol">{BOMB_ENTITIES}]>\n'
    "<html><head><title>Ferry timetable</title><style>p {color: red}</style>"
    "<script>var hidden = 'scriptword';</script></head>"
    "<body><h1>Crossings &amp; fares</h1><p>Caf&eacute; on deck &#233;t&#xE9;</p><p>&lol9;</p></body></html>\n"
)


def write_message(path: Path) -> Path:
    """A multipart e-mail: plain and HTML alternatives, an encoded subject, an attachment."""
    message = EmailMessage()
    message["From"] = "Agnès Durand <agnes@example.org>"
    message["To"] = "Records Office <records@example.org>"
    message["Cc"] = "clerk@example.org"
    message["Subject"] = "Lighthouse keeper's logbook — transfer"
    message["Date"] = "Tue, 04 Mar 2025 10:15:00 +0000"
    message.set_content("The logbook of the lighthouse keeper is ready for transfer.\nRegards, Agnès\n")
    message.add_alternative("<html><body><p>The <b>logbook</b> of the lighthouse keeper (HTML copy)</p></body></html>",
                            subtype="html")  # fmt: skip
    message.add_attachment(b"%PDF-1.4 not really", maintype="application", subtype="pdf", filename="inventory.pdf")
    path.write_bytes(bytes(message))
    return path


def write_html_only_message(path: Path) -> Path:
    message = EmailMessage()
    message["From"] = "harbourmaster@example.org"
    message["To"] = "records@example.org"
    message["Subject"] = "Dredging schedule"
    message.set_content("<html><body><p>Dredging begins at <i>Quay&nbsp;7</i> on Monday</p>"
                        "<script>ignored()</script></body></html>", subtype="html")  # fmt: skip
    path.write_bytes(bytes(message))
    return path


def write_mbox(path: Path) -> Path:
    box = mailbox.mbox(str(path), create=True)
    try:
        for n, (subject, body) in enumerate((("Quarry licence", "The quarry licence was renewed."),
                                             ("Orchard lease", "The orchard lease ends in May."))):  # fmt: skip
            message = EmailMessage()
            message["From"] = f"sender{n}@example.org"
            message["To"] = "records@example.org"
            message["Subject"] = subject
            message.set_content(body)
            box.add(message)
        box.flush()
    finally:
        box.close()
    return path
