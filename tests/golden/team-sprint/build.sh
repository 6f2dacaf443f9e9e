#!/bin/sh
# A small Python web shop worked on by a team for two weeks (2 to 15 March 2026), after two quieter weeks:
# conventional commits and plain subjects; features, fixes, docs, tests, CI, dependency bumps; pull requests
# merged with --no-ff and a branch sync merge; a revert; a breaking change; an annotated release tag;
# dependabot[bot]; a .mailmap that joins two identities of one person; a Co-authored-by trailer.
. "$(dirname "$0")/../lib.sh"
start_repo "${1:?usage: build.sh DIR}"

ADA="Ada Lovelace"; ADA_MAIL=ada@example.com
GRACE="Grace Hopper"; GRACE_MAIL=grace@example.com
KJ="Katherine Johnson"; KJ_MAIL=kj@example.com
LINUS="Linus Pauling"; LINUS_MAIL=linus@example.com
BOT="dependabot[bot]"; BOT_MAIL=49699333+dependabot[bot]@users.noreply.github.com

# -- the previous period (16 February to 1 March) ---------------------------------------------------------
who "$ADA" "$ADA_MAIL"; at 2026-02-17T09:00:00Z
put .mailmap "Ada Lovelace <ada@example.com> ada <ada@old-laptop.local>"
put README.md "# Acme shop" "" "A small web shop."
put pyproject.toml "[project]" 'name = "acme-shop"' 'version = "1.3.0"' 'requires-python = ">=3.8"'
put requirements.txt "requests==2.31.0" "pytest==8.0.0"
put src/shop/__init__.py
put src/shop/cart.py "class Cart:" "    def __init__(self):" "        self.items = []" "" \
    "    def total(self):" "        return sum(i.price for i in self.items)"
commit "Initial import of the shop"

who "$GRACE" "$GRACE_MAIL"; at 2026-02-19T15:30:00Z
put src/shop/cart.py "class Cart:" "    LIMIT = 99" "    def __init__(self):" "        self.items = []" "" \
    "    def total(self):" "        return sum(i.price for i in self.items)"
commit "feat(cart): limit quantities to 99 per item"

who "$ADA" "$ADA_MAIL"; at 2026-02-24T11:00:00Z
put src/shop/cart.py "class Cart:" "    LIMIT = 99" "    def __init__(self):" "        self.items = []" "" \
    "    def total(self):" "        return round(sum(i.price for i in self.items), 2)"
commit "Fix rounding of cart totals"

who "$KJ" "$KJ_MAIL"; at 2026-02-26T10:00:00Z
put docs/cart.md "# The cart" "" "How the cart adds up."
commit "docs: describe the cart"

# -- the window (2 to 15 March) ------------------------------------------------------------------------------
who ada ada@old-laptop.local; at 2026-03-02T09:10:00Z
put src/shop/checkout.py "def pay(cart, gift_card=None):" "    due = cart.total()" \
    "    if gift_card:" "        due = max(0, due - gift_card.balance)" "    return due"
put tests/test_checkout.py "def test_gift_card_pays_part():" "    assert True"
commit "feat(checkout): accept gift cards at checkout

Customers can now pay part or all of an order with a gift card."

who "$GRACE" "$GRACE_MAIL"; at 2026-03-02T14:00:00Z
put .github/workflows/ci.yml "name: ci" "on: [push]" "jobs:" "  test:" "    runs-on: ubuntu-latest" \
    "    strategy:" "      matrix:" "        python: ['3.12', '3.13']"
commit "ci: run the tests on Python 3.12 and 3.13"

who "$BOT" "$BOT_MAIL"; at 2026-03-03T06:00:00Z
put requirements.txt "requests==2.32.3" "pytest==8.0.0"
commit "Bump requests from 2.31.0 to 2.32.3

Bumps [requests](https://github.com/psf/requests) from 2.31.0 to 2.32.3.

Signed-off-by: dependabot[bot] <support@github.com>"

g checkout -q -b feature/export
who "$GRACE" "$GRACE_MAIL"; at 2026-03-03T10:00:00Z
put src/shop/export.py "import csv" "" "def export_orders(orders, out):" "    writer = csv.writer(out)" \
    "    for order in orders:" "        writer.writerow([order.id, order.total])"
commit "Add CSV export of orders"
at 2026-03-04T10:00:00Z
put tests/test_export.py "def test_export_writes_one_row_per_order():" "    assert True"
commit "test: cover the CSV export"

g checkout -q main
who "$KJ" "$KJ_MAIL"; at 2026-03-04T15:00:00Z
put docs/checkout.md "# Checkout" "" "Paying with a gift card."
commit "docs: add a checkout guide"

g checkout -q feature/export
who "$GRACE" "$GRACE_MAIL"; at 2026-03-05T09:00:00Z
merge main "Merge branch 'main' into feature/export"

g checkout -q main
who "$ADA" "$ADA_MAIL"; at 2026-03-05T16:00:00Z
merge feature/export "Merge pull request #12 from grace/feature-export

Add CSV export of orders"

at 2026-03-09T10:30:00Z
put src/shop/cart.py "class Cart:" "    LIMIT = 99" "    def __init__(self):" "        self.items = []" \
    "        self.discounted = False" "" "    def total(self):" \
    "        return round(sum(i.price for i in self.items), 2)"
put tests/test_cart.py "def test_discount_applies_once():" "    assert True"
commit "fix(cart): discount applied twice when the cart is reloaded

The discount flag is now kept on the cart, so a reload does not apply it again.

Co-authored-by: Linus Pauling <linus@example.com>"

who "$GRACE" "$GRACE_MAIL"; at 2026-03-10T13:00:00Z
put src/shop/search.py "def search(orders, term):" "    return [o for o in orders if term in o.name]"
commit "Speed up the order search"
at 2026-03-11T09:00:00Z
g revert --no-edit HEAD >/dev/null

g checkout -q -b docs-faq
who "$KJ" "$KJ_MAIL"; at 2026-03-11T14:00:00Z
put docs/faq.md "# FAQ" "" "Can I pay with two gift cards? Not yet."
commit "Write the FAQ"
g checkout -q main
who "$ADA" "$ADA_MAIL"; at 2026-03-12T09:00:00Z
merge docs-faq "Merge pull request #15 from kjohnson/docs-faq"

at 2026-03-12T15:00:00Z
put CHANGELOG.md "# Changelog" "" "## 1.4.0" "" "- Gift cards at checkout" "- CSV export of orders"
put pyproject.toml "[project]" 'name = "acme-shop"' 'version = "1.4.0"' 'requires-python = ">=3.8"'
commit "chore(release): 1.4.0"
g tag -a v1.4.0 -m "Release 1.4.0"

who "$LINUS" "$LINUS_MAIL"; at 2026-03-13T10:00:00Z
put src/shop/payments.py "class CardPayment:" "    pass" "" "class GiftCardPayment:" "    pass"
commit "Refactor the payment adapters into one module"

who "$GRACE" "$GRACE_MAIL"; at 2026-03-13T16:00:00Z
put pyproject.toml "[project]" 'name = "acme-shop"' 'version = "1.4.0"' 'requires-python = ">=3.9"'
commit "feat!: drop support for Python 3.8

BREAKING CHANGE: Python 3.9 or newer is now required."

who "$BOT" "$BOT_MAIL"; at 2026-03-14T06:00:00Z
put requirements.txt "requests==2.32.3" "pytest==8.3.2"
commit "build(deps-dev): bump pytest from 8.0.0 to 8.3.2"

# -- after the window: must not show ---------------------------------------------------------------------
who "$ADA" "$ADA_MAIL"; at 2026-03-16T09:00:00Z
put src/shop/wishlist.py "def wishlist():" "    return []"
commit "feat: add a wishlist"
