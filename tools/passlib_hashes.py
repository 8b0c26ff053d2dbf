#!/usr/bin/env python3
"""Make tests/cli/fixtures/tutorial_000_users.json: tutorial users whose password hashes come
from passlib's bcrypt, exactly as seed 000's `get_password_hash` makes them
(`CryptContext(schemes=["bcrypt"], deprecated="auto").hash(password)`).

Run once, in a venv with the pinned versions, and commit the output:
    python3 -m venv /tmp/passlib && /tmp/passlib/bin/pip install "passlib[bcrypt]==1.7.4" "bcrypt==4.0.1"
    /tmp/passlib/bin/python tools/passlib_hashes.py > tests/cli/fixtures/tutorial_000_users.json
(bcrypt 4.0.1: later releases drop the `__about__` passlib 1.7.4 reads.) The plaintext passwords
are in the fixture on purpose: the test logs in with them after the import.
"""
import json

from passlib.context import CryptContext

pwd_context = CryptContext(schemes=["bcrypt"], deprecated="auto")

# (username, email, password or None, roles). Rows 4-9 are the awkward ones the import must report.
USERS = [
    ("alice", "alice@example.com", "alice-old-password-1", ["ROLE_USER"]),
    ("moderator", "Mod.Erator@Example.com", "moderator-old-password-2", ["ROLE_USER", "ROLE_MODERATOR"]),
    ("root", "admin@example.com", "admin-old-password-3", ["ROLE_USER", "ROLE_ADMIN"]),
    ("nopass", "nopass@example.com", None, ["ROLE_USER"]),
    ("broken", "not-an-email", "broken-old-password-5", ["ROLE_USER"]),
    ("alice2", " ALICE@Example.COM", "alice2-old-password-6", ["ROLE_USER"]),
    ("has space", "spaced@example.com", "spaced-old-password-8", ["ROLE_USER"]),
    ("editor", "editor@example.com", "editor-old-password-9", ["ROLE_USER", "ROLE_EDITOR"]),
]

rows = []
for username, email, password, roles in USERS:
    rows.append({
        "username": username,
        "email": email,
        "password": password,
        "hash": pwd_context.hash(password) if password is not None else None,
        "roles": roles,
    })
# A tutorial fork that stored the password itself: it must never become a usable hash.
rows.append({"username": "plain", "email": "plain@example.com", "password": "hunter2hunter2",
             "hash": "hunter2hunter2", "roles": ["ROLE_USER"]})
print(json.dumps(rows, indent=1))
