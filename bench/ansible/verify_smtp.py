"""verify smtp, for bench/ansible/mail.yml: what provision's verifySmtp checks, from the controller.

usage: verify_smtp.py ADDRESS REALM USER@REALM   (password on stdin)
Ports 25 and 587: a 220 banner that names no software or version, EHLO 250 offering AUTH CRAM-MD5
and DIGEST-MD5; on 587 an AUTH CRAM-MD5 login that gets 235. Exit 0 when all hold, else 1 with the
problems on stderr (never the password).
"""
import re
import smtplib
import sys

address, _realm, user = sys.argv[1], sys.argv[2], sys.argv[3]
password = sys.stdin.read()
problems = []
for port in (25, 587):
    try:
        smtp = smtplib.SMTP(timeout=10)
        code, banner = smtp.connect(address, port)
        text = banner.decode("utf-8", "replace")
        if code != 220:
            problems.append(f"{port}: banner {code}")
        elif re.search(r"postfix|debian|ubuntu|\d+\.\d+", text, re.I):
            problems.append(f"{port}: banner reveals version: {text}")
        code, _ = smtp.ehlo()
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        missing = [m for m in ("CRAM-MD5", "DIGEST-MD5") if m not in offered]
        if code != 250 or missing:
            problems.append(f"{port}: EHLO {code}, AUTH lacks {' '.join(missing)}")
        if port == 587:
            smtp.user, smtp.password = user, password
            try:
                code, _ = smtp.auth("CRAM-MD5", smtp.auth_cram_md5)
            except smtplib.SMTPResponseException as error:
                code = error.smtp_code
            if code != 235:
                problems.append(f"{port}: CRAM-MD5 login as {user} -> {code}")
        smtp.quit()
    except (OSError, smtplib.SMTPException) as error:
        problems.append(f"{port}: {type(error).__name__}: {error}")
if problems:
    print("; ".join(problems), file=sys.stderr)
sys.exit(1 if problems else 0)
