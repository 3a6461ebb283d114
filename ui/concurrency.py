"""How many of each web event may run at once: every event names its limit here, so they are reviewed together.

Answering is CPU-bound on a small machine, so chat is capped; polls are cheap database reads; every write to the
knowledge base shares one slot (`KB_WRITES`), so two saves never interleave their file writes and re-indexing.
"""

from __future__ import annotations

CHAT = 8  # customer messages, "talk to a person", /chat
POLL = 32  # the chat's check for officer replies, every couple of seconds per open conversation
FEEDBACK = 8  # helpful / not helpful
CONSOLE = 8  # officer console reads and replies, quick SMS answers
EDITOR_READ = 4  # browsing, searching and grouping questions
KB_WRITE = 1  # saves, deletes, uploads, approvals: one at a time
KB_WRITES = "kb-write"  # the shared concurrency id of every knowledge-base write
ANALYTICS = 2  # report building (reads every interaction in the period)
