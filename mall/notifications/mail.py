"""Email transports: the console in development (the message goes to the log), SMTP
otherwise. Tests point SMTP at a real local SMTP server (aiosmtpd)."""
import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

log = logging.getLogger(__name__)


class ConsoleMailer:
    """Logs each email instead of sending it; keeps the last ones for a look in a shell."""

    def __init__(self, sender: str):
        self.sender = sender
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        message["From"] = self.sender
        self.sent.append(message)
        del self.sent[:-50]
        log.info("email (console backend) to %s: %s\n%s", message["To"], message["Subject"],
                 message.get_content())


class SmtpMailer:
    def __init__(self, sender: str, host: str, port: int, *, user: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10):
        self.sender, self.host, self.port = sender, host, port
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout

    def send(self, message: EmailMessage) -> None:
        message["From"] = self.sender
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


def mailer_for(config) -> ConsoleMailer | SmtpMailer:
    sender = config["MALL_MAIL_FROM"]
    if config.get("MALL_MAIL_BACKEND") == "smtp":
        return SmtpMailer(sender, config["MALL_SMTP_HOST"], config["MALL_SMTP_PORT"],
                          user=config.get("MALL_SMTP_USER"), password=config.get("MALL_SMTP_PASSWORD"),
                          starttls=config.get("MALL_SMTP_STARTTLS", False))
    return ConsoleMailer(sender)


def build_message(to: str, subject: str, body: str, *, message_id_key: str) -> EmailMessage:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = subject
    # A stable id per notification lets a receiving server drop an accidental duplicate.
    message["Message-ID"] = make_msgid(idstring=message_id_key.replace(":", "."))
    message.set_content(body)
    return message
