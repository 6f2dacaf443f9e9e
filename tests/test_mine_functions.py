"""``finetune mine`` function pairs beyond Python: Java, JavaScript, PHP, Ruby and Go doc comments -> summaries."""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from finetune.data.filters import function_rejection
from finetune.data.functions import doc_comment, extract_functions, is_skipped_path
from finetune.data.mine import mine_functions

SHARED_FUNCTIONS = Path(__file__).resolve().parents[2] / "shared" / "data" / "functions"  # ../shared
if not SHARED_FUNCTIONS.is_dir():
    SHARED_FUNCTIONS = Path("/work/shared/data/functions")  # a worktree's ../shared may be elsewhere
REPOS = Path(os.environ.get("NARRATOR_TEST_REPOS", "/work/repos"))

JAVA = '''\
package shop;

/** A shopping cart that keeps its items in order. */
public class Cart {
    /**
     * Creates an empty cart with room for the given number of items.
     */
    public Cart(int size) {
        this.items = new ArrayList<>(size);
        this.size = size;
        this.open = true;
    }

    /**
     * Returns the total price of all items, in cents.
     *
     * @param taxed whether {@code tax} is included
     * @return the total
     */
    @Override
    @SuppressWarnings("unchecked")
    public long total(boolean taxed) {
        long sum = 0;
        for (Item item : items) {
            sum += item.price(taxed);
        }
        return sum;
    }

    /** Removes every item that is out of stock, keeping the order. */

    protected void prune() {
        items.removeIf(Item::outOfStock);
        log("pruned");
        count--;
    }

    /** Clears the cart and the discount codes that were applied. */


    void clear() {
        items.clear();
        codes.clear();
        count = 0;
    }

    /* Not a Javadoc comment, so this method has no documentation. */
    void reset() {
        items.clear();
        codes.clear();
        count = 0;
    }

    static class Line {
        /**
         * Formats the line for the receipt, with the quantity first.
         */
        String format() {
            String out = quantity + " x ";
            out += name;
            return out;
        }
    }
}

interface Priced {
    /** Returns the price of this thing in cents, never negative. */
    long price();
}
'''

JS = '''\
/**
 * Adds the numbers of a list together and returns the sum.
 * @param {number[]} values the numbers
 * @returns {number}
 */
function sum(values) {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

class Basket {
  /** Creates a basket (constructors are never extracted). */
  constructor(owner) {
    this.owner = owner;
    this.items = [];
    this.open = true;
  }

  /**
   * Puts an item into the basket unless it is already there.
   */
  add(item) {
    if (!this.items.includes(item)) {
      this.items.push(item);
    }
  }
}

/** Doubles every value of a list and keeps the original order. */
const doubleAll = (values) => {
  const out = [];
  values.forEach((v) => out.push(v * 2));
  return out;
};

/** Halves every value of a list, written as an expression body. */
const halveAll = (values) =>
  values
    .map((v) => v / 2)
    .filter(Boolean);

// Triples every value of a list, with a line comment (not JSDoc).
function tripleAll(values) {
  const out = [];
  values.forEach((v) => out.push(v * 3));
  return out;
}
'''

PHP = '''\
<?php
namespace Shop;

abstract class Order
{
    /**
     * Create a new order for the given customer.
     */
    public function __construct(string $customer)
    {
        $this->customer = $customer;
        $this->lines = [];
        $this->open = true;
    }

    /**
     * Calculate the order total including every discount.
     *
     * @param  bool  $taxed
     * @return int
     */
    #[\\Override]
    public function total(bool $taxed): int
    {
        $sum = 0;
        foreach ($this->lines as $line) {
            $sum += $line->price($taxed);
        }
        return $sum;
    }

    /**
     * Ship the order to the address that the customer gave us.
     */
    abstract protected function ship(string $address);
}
'''

RUBY = '''\
# frozen_string_literal: true

module Shop
  class Register
    # Creates a register (initialize is never extracted).
    def initialize(till)
      @till = till
      @open = true
      @log = []
    end

    # Rings up every item and returns the receipt as +String+.
    # The receipt lists the items in the order they were scanned.
    def ring_up(items)
      total = items.sum(&:price)
      @log << total
      format_receipt(items, total)
    end

    ##
    # Closes the register for the day and counts the cash in the till.

    def close
      @open = false
      @till.count
      @log.clear
    end

    # Counts the coins in the till, written as a private def.
    private def count_coins
      @till.coins
        .map(&:value)
        .sum
    end

    # Separated from its method by a blank line, so not documentation.

    def audit
      @log.each do |entry|
        puts entry
      end
    end
  end
end
'''

GO = '''\
package shop

// Run starts the server and blocks until the context is cancelled.
// It returns the first error of the listener.
func (s *Server) Run(ctx context.Context) error {
	go s.listen()
	<-ctx.Done()
	return s.err
}

// Stop stops the server and waits for the handlers to finish.
//go:noinline
func (s *Server) Stop() {
	s.cancel()
	s.wg.Wait()
	s.closed = true
}

// NewServer is separated from its function by a blank line.

func NewServer() *Server {
	s := &Server{}
	s.init()
	return s
}

// String returns the name of the server (a trivial override).
func (s *Server) String() string {
	name := s.name
	name = strings.TrimSpace(name)
	return name
}
'''


@pytest.fixture
def shop_repo(git_repo):
    documented = '// Hidden returns a value that nobody should ever read.\nfunc Hidden() int {\n\tx := 1\n\tx++\n\treturn x\n}\n'
    git_repo.commit("Add the shop", {
        "src/main/java/shop/Cart.java": JAVA, "lib/sum.js": JS, "src/Order.php": PHP, "lib/shop/register.rb": RUBY,
        "server.go": GO,
        # the same kind of documented function where the shared data never looks
        "tests/helper.go": "package shop\n\n" + documented, "server_test.go": "package shop\n\n" + documented,
        "vendor/lib/x.go": "package lib\n\n" + documented, "internal/gen/zz.go": "package gen\n\n" + documented,
        "api.pb.go": "package shop\n\n" + documented,
        "made.go": "// Code generated by stringer; DO NOT EDIT.\n\npackage shop\n\n" + documented,
        "lib/sum.min.js": JS, "spec/register_spec.rb": RUBY, "src/CartTest.java": JAVA,
    })
    return git_repo


def test_documented_functions_of_five_languages(shop_repo):
    records, dropped = mine_functions(shop_repo.path)
    found = {(r.language, r.func_name): r for r in records}
    assert {(r.func_path_in_repository, r.func_name) for r in records} == {
        ("src/main/java/shop/Cart.java", "Cart.total"), ("src/main/java/shop/Cart.java", "Cart.prune"),
        ("src/main/java/shop/Cart.java", "Cart.Line.format"),
        ("lib/sum.js", "sum"), ("lib/sum.js", "Basket.add"), ("lib/sum.js", "doubleAll"),
        ("src/Order.php", "Order.total"),
        ("lib/shop/register.rb", "Shop::Register.ring_up"), ("lib/shop/register.rb", "Shop::Register.close"),
        ("lib/shop/register.rb", "Shop::Register.count_coins"),
        ("server.go", "Server.Run"), ("server.go", "Server.Stop"),
    }
    assert dropped["constructor or trivial override"] == 4  # JS constructor, PHP __construct, Ruby initialize, Go String

    total = found[("Java", "Cart.total")]
    assert total.summary == "Returns the total price of all items, in cents."
    assert total.docstring.startswith("Returns the total price") and "@return the total" in total.docstring
    assert total.code.startswith("@Override\n@SuppressWarnings(\"unchecked\")\npublic long total(boolean taxed) {")
    assert total.code.endswith("}") and "/**" not in total.code and "*/" not in total.code
    assert found[("Java", "Cart.Line.format")].code.startswith("String format() {")  # dedented

    assert found[("JavaScript", "sum")].summary == "Adds the numbers of a list together and returns the sum."
    assert found[("JavaScript", "doubleAll")].code.startswith("const doubleAll = (values) => {")
    assert found[("PHP", "Order.total")].code.startswith("#[\\Override]\npublic function total(bool $taxed): int")
    assert found[("PHP", "Order.total")].summary == "Calculate the order total including every discount."

    ring = found[("Ruby", "Shop::Register.ring_up")]
    assert ring.summary == ("Rings up every item and returns the receipt as `String`. "
                            "The receipt lists the items in the order they were scanned.")
    assert ring.code.startswith("def ring_up(items)") and ring.code.endswith("end")
    assert found[("Ruby", "Shop::Register.close")].summary == \
        "Closes the register for the day and counts the cash in the till."
    assert found[("Ruby", "Shop::Register.count_coins")].code.startswith("def count_coins")

    run = found[("Go", "Server.Run")]
    assert run.summary == ("Run starts the server and blocks until the context is cancelled. "
                           "It returns the first error of the listener.")
    assert run.code.startswith("func (s *Server) Run(ctx context.Context) error {")
    assert "go:noinline" not in found[("Go", "Server.Stop")].docstring
    for r in records:
        assert function_rejection(r) is None and r.commit and r.repository_name == "repo"


def test_skipped_paths_follow_the_shared_rules():
    for path in ["tests/a.go", "a_test.go", "vendor/x/a.go", "internal/gen/a.go", "a.pb.go", "x_gen.go",
                 "src/FooTest.java", "src/FooTests.java", "a.test.js", "a.spec.js", "dist/a.js", "lib/a.min.js",
                 "spec/a_spec.rb", "lib/a_test.rb", "src/FooTest.php", "docs/a.rb", "examples/a.go",
                 "node_modules/x/index.js", "conftest.py", "pkg/test_x.py"]:
        assert is_skipped_path(path), path
    for path in ["src/Foo.java", "lib/a.js", "server.go", "lib/shop/register.rb", "src/Order.php", "pkg/x.py"]:
        assert not is_skipped_path(path), path


def test_doc_comment_readers_directly():
    assert doc_comment("Java", ["/**", " * One.", " *", " * Two.", " */", "void f() {"], 5) == "One.\n\nTwo."
    assert doc_comment("Java", ["/** One. */", "", "", "void f() {"], 3) is None  # two blank lines
    assert doc_comment("JavaScript", ["/* plain */", "function f() {"], 1) is None
    assert doc_comment("Go", ["// A b.", "//nolint:errcheck", "func F() {"], 2) == "A b."
    assert doc_comment("Ruby", ["# A b.", "#", "# C d.", "def f"], 3) == "A b.\n\nC d."
    assert doc_comment("Ruby", ["# A b.", "", "def f"], 2) is None


def test_extract_refuses_python_and_unknown_languages():
    with pytest.raises(ValueError, match="not Python"):
        extract_functions("def f():\n    pass\n", "a.py", "r")


def test_record_shape_matches_the_shared_data(shop_repo):
    if not SHARED_FUNCTIONS.is_dir():
        pytest.skip("the shared data (../shared/data/functions) is not available")
    with gzip.open(SHARED_FUNCTIONS / "train.jsonl.gz", "rt", encoding="utf-8") as handle:
        shared = json.loads(handle.readline())
    records, _ = mine_functions(shop_repo.path)
    assert set(asdict(records[0])) == set(shared)


@pytest.mark.parametrize("repo, language, at_least", [
    ("echo", "Go", 60), ("guice", "Java", 150), ("jekyll", "Ruby", 60), ("composer", "PHP", 100),
    ("lodash", "JavaScript", 100),
])
def test_real_repository_per_language(repo, language, at_least):
    path = REPOS / repo
    if not (path / ".git").exists() and not (path / "HEAD").exists():
        pytest.skip(f"{path} is not available")
    records, dropped = mine_functions(path)
    mine = [r for r in records if r.language == language]
    assert len(mine) >= at_least, (len(mine), dropped.most_common(5))
    for r in mine:
        assert function_rejection(r) is None
        assert not is_skipped_path(r.func_path_in_repository)
        assert r.summary.split()[0] in r.docstring
        assert "/**" not in r.code.splitlines()[0]
    assert len({r.uid for r in mine}) == len(mine)
