#!/bin/sh
# A Go service whose code sits at the repository root (main.go, handler.go, ...), one week of work (2 to 8
# March 2026): handler.go is changed again and again (a hotspot), a 520-line billing engine lands without
# tests (a large change without tests), go.mod/go.sum are bumped, a Dockerfile is added. The repository's
# .narrator.toml pins the time zone and maps internal/billing/** to an area called "Billing".
. "$(dirname "$0")/../lib.sh"
start_repo "${1:?usage: build.sh DIR}"

MEI="Mei Chen"; MEI_MAIL=mei@example.org
TOMAS="Tomás Ortega"; TOMAS_MAIL=tomas@example.org

handler() {  # handler.go, version $1 (a line of code: a change of comments only would be documentation)
    put handler.go "package main" "" 'import "net/http"' "" "const version = $1" \
        "func handle(w http.ResponseWriter, r *http.Request) {" "    w.WriteHeader(http.StatusOK)" "}"
}

# -- the previous week --------------------------------------------------------------------------------------
who "$MEI" "$MEI_MAIL"; at 2026-02-24T08:30:00Z
put .narrator.toml 'timezone = "UTC"' "" "[areas]" '"internal/billing/**" = "Billing"'
put go.mod "module example.org/pinger" "" "go 1.22" "" "require golang.org/x/net v0.22.0"
put go.sum "golang.org/x/net v0.22.0 h1:aaaa" "golang.org/x/net v0.22.0/go.mod h1:bbbb"
put main.go "package main" "" "func main() {" "    serve()" "}"
put server.go "package main" "" 'import "net/http"' "" "func serve() {" '    http.ListenAndServe(":8080", nil)' "}"
handler 1
put README.md "# pinger" "" "Answers pings."
commit "Initial commit"

who "$TOMAS" "$TOMAS_MAIL"; at 2026-02-26T14:00:00Z
put config.go "package main" "" "type Config struct {" "    Port int" "}"
commit "Add configuration loading"

# -- the week (2 to 8 March) ------------------------------------------------------------------------------
who "$MEI" "$MEI_MAIL"; at 2026-03-02T09:00:00Z
handler 2
commit "Handle empty query strings"

at 2026-03-02T16:00:00Z
handler 3
commit "fix: return 400 on malformed JSON"

who "$TOMAS" "$TOMAS_MAIL"; at 2026-03-03T10:00:00Z
mkdir -p internal/billing
i=1
while [ "$i" -le 520 ]; do
    printf 'func line%d() int { return %d }\n' "$i" "$i"
    i=$((i + 1))
done > internal/billing/invoice.go
g add internal/billing/invoice.go
commit "Add the billing engine

Invoices, taxes and credit notes in one go."

who "$MEI" "$MEI_MAIL"; at 2026-03-03T15:00:00Z
handler 4
commit "Log request ids in the handler"

at 2026-03-04T11:00:00Z
handler 5
put handler_test.go "package main" "" 'import "testing"' "" "func TestHandle(t *testing.T) {}"
commit "fix: handler panics on a nil body"

who "$TOMAS" "$TOMAS_MAIL"; at 2026-03-04T17:00:00Z
put go.mod "module example.org/pinger" "" "go 1.22" "" "require golang.org/x/net v0.23.0"
put go.sum "golang.org/x/net v0.23.0 h1:cccc" "golang.org/x/net v0.23.0/go.mod h1:dddd"
commit "Bump golang.org/x/net from 0.22.0 to 0.23.0"

who "$MEI" "$MEI_MAIL"; at 2026-03-05T10:00:00Z
handler 6
commit "Tidy the handler's error messages"

at 2026-03-05T12:00:00Z
put Dockerfile "FROM golang:1.22" "COPY . /src" 'RUN go build -o /pinger ./...' 'CMD ["/pinger"]'
commit "build: add a Dockerfile"

at 2026-03-06T09:30:00Z
handler 7
put server.go "package main" "" 'import "net/http"' "" "func serve() {" '    http.ListenAndServe(":8081", nil)' "}"
commit "fix: handler timeout was too short"

who "$TOMAS" "$TOMAS_MAIL"; at 2026-03-06T15:00:00Z
put internal/billing/tax.go "package billing" "" "func vat(amount int) int {" "    return amount / 5" "}"
commit "feat(billing): compute VAT on invoices"
