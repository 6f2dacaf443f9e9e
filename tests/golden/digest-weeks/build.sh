#!/bin/sh
# Weekly digests of three weeks up to the pinned "now" (Wednesday 18 March 2026 12:00 UTC): ISO week 10 is
# busy, week 11 is quiet, week 12 is in progress; week 9 gives week 10 something to compare with; one commit
# is dated in the future (a wrong clock) and must be mentioned in the current week's digest.
. "$(dirname "$0")/../lib.sh"
start_repo "${1:?usage: build.sh DIR}"

who "Ada Lovelace" ada@example.com; at 2026-02-24T09:00:00Z
put src/bot/core.py "def reply():" "    return 'hi'"
put README.md "# chat bot"
commit "Initial commit"

who "Grace Hopper" grace@example.com; at 2026-02-26T10:00:00Z
put docs/usage.md "# Usage"
commit "docs: explain how to talk to the bot"

# week 10 (2 to 8 March)
who "Ada Lovelace" ada@example.com; at 2026-03-02T09:00:00Z
put src/bot/core.py "def reply(text):" "    return 'hi ' + text"
put tests/test_core.py "def test_reply():" "    assert True"
commit "feat: answer with the user's words"

who "Grace Hopper" grace@example.com; at 2026-03-04T14:00:00Z
put src/bot/core.py "def reply(text):" "    return 'hi ' + text.strip()"
commit "fix: trailing spaces in replies"

at 2026-03-06T16:00:00Z
put .github/workflows/test.yml "name: test" "on: [push]"
commit "ci: run the tests on every push"

# week 11 (9 to 15 March): nothing

# week 12 (16 to 22 March), in progress
who "Ada Lovelace" ada@example.com; at 2026-03-16T11:00:00Z
put src/bot/memory.py "def remember(text):" "    return [text]"
commit "feat(memory): remember the last message"

# a commit from a computer whose clock is a week ahead
at 2026-03-25T08:00:00Z
put src/bot/memory.py "def remember(text):" "    return [text][-10:]"
commit "Keep only the last ten messages"
