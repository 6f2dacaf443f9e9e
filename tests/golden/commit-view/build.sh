#!/bin/sh
# The hostile-text repository; `narrate commit HEAD` explains its last commit, which has a hostile author,
# subject, body and file names, a rename and a deletion.
exec sh "$(dirname "$0")/../hostile-text/build.sh" "$@"
