"""The one digest of content: a short stable hash of JSON-able values.

Index records (what is re-embedded), an entry's version (what an editor loaded) and a tuned model's learnt
phrasings (what changed since tuning) are all compared by it; its output is stored, so it never changes.
"""

import hashlib
import json


def content_digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
