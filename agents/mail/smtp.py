"""One reused SMTP connection with reconnects, TLS/STARTTLS, authentication and timeouts,
and the split of failures into temporary (retry) and permanent (dead-letter)."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import aiosmtplib

from agents.sinks.protocol import PermanentDeliveryError, TemporaryDeliveryError
from config import Settings

logger = logging.getLogger(__name__)


class MailTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout_s,
            use_tls=s.smtp_tls == "tls",
            start_tls=s.smtp_tls == "starttls",  # False: never (not even when offered); "none" means plain
            username=s.smtp_username,
            password=s.smtp_password,
        )
        await smtp.connect()
        self._smtp = smtp
        return smtp

    async def send(self, message: EmailMessage) -> None:
        """Deliver or raise PermanentDeliveryError / TemporaryDeliveryError."""
        try:
            smtp = await self._connected()
            errors, _ = await smtp.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError(f"all recipients refused: {exc.recipients}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            await self.close()
            if 400 <= exc.code < 500:
                raise TemporaryDeliveryError(f"{exc.code} {exc.message}") from exc
            raise PermanentDeliveryError(f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self.close()
            raise TemporaryDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if errors:  # some recipients refused, others accepted: the accepted ones have it
            logger.warning("recipients refused for %s: %s", message["Message-ID"], errors)

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()
