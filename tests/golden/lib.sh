# Sourced by every scenario's build.sh (POSIX sh): pins git so that nothing from the user's or the
# machine's configuration, clock, locale or time zone can leak into the repository being built.
#
#   who NAME EMAIL        author and committer of the next commits (also the tagger)
#   at  2026-03-02T09:10:00Z   author and committer date of the next commits, merges and tags
#   put PATH [LINE...]    write PATH (one argument per line; none: an empty file) and stage it
#   commit MESSAGE        commit what is staged (MESSAGE may hold several lines: subject, body, trailers)
#   merge BRANCH MESSAGE  a --no-ff merge of BRANCH into the current branch
#   g ARGS...             any other git command, with the pinned settings

set -eu

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 GIT_EDITOR=true \
    GIT_MERGE_AUTOEDIT=no GIT_ADVICE=0 LC_ALL=C TZ=UTC
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_TEMPLATE_DIR GIT_NAMESPACE \
    GIT_CEILING_DIRECTORIES 2>/dev/null || true

g() {
    git -c commit.gpgsign=false -c tag.gpgsign=false -c tag.forceSignAnnotated=false \
        -c init.defaultBranch=main -c core.autocrlf=false -c core.safecrlf=false -c core.fileMode=true \
        -c core.hooksPath=/dev/null -c core.precomposeunicode=false -c i18n.commitEncoding=UTF-8 \
        -c user.useConfigOnly=false -c merge.ff=false -c pull.rebase=false -c gc.auto=0 \
        -c commit.cleanup=whitespace -c commit.verbose=false -c commit.status=false \
        -c advice.detachedHead=false -c revert.reference=false "$@"
}

who() {
    GIT_AUTHOR_NAME=$1 GIT_AUTHOR_EMAIL=$2 GIT_COMMITTER_NAME=$1 GIT_COMMITTER_EMAIL=$2
    export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
}

at() {
    GIT_AUTHOR_DATE=$1 GIT_COMMITTER_DATE=$1
    export GIT_AUTHOR_DATE GIT_COMMITTER_DATE
}

put() {
    path=$1
    shift
    case "$path" in */*) mkdir -p "${path%/*}" ;; esac
    if [ $# -eq 0 ]; then : > "$path"; else printf '%s\n' "$@" > "$path"; fi
    g add -- "$path"
}

commit() {
    printf '%s\n' "$1" | g commit -q --no-verify --allow-empty --cleanup=whitespace -F -
}

merge() {
    g merge -q --no-ff --no-edit --no-verify -m "$2" "$1"
}

start_repo() {
    mkdir -p "$1"
    cd "$1"
    g init -q -b main .
}
