"""SMTP fixtures (real aiosmtpd on 127.0.0.1) — filled in by the notifications work."""
