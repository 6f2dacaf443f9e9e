#!/bin/sh
# A quiet week: work from 2 to 10 March 2026, then nothing. The report asks for the last week (--since 1w
# before the pinned "now", 18 March 2026 12:00 UTC), which holds no commit while the week before it does.
. "$(dirname "$0")/../lib.sh"
start_repo "${1:?usage: build.sh DIR}"

who "Ada Lovelace" ada@example.com; at 2026-03-02T09:00:00Z
put src/app/main.py "print('hello')"
commit "Initial commit"

at 2026-03-05T10:00:00Z
put src/app/main.py "print('hello, world')"
commit "feat: greet the whole world"

who "Grace Hopper" grace@example.com; at 2026-03-06T11:00:00Z
put docs/index.md "# App"
commit "docs: start the manual"

at 2026-03-10T15:00:00Z
put src/app/main.py "print('hello, world!')"
commit "fix: add the missing exclamation mark"
