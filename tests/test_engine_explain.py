"""`narrate explain PATH[:SYMBOL] [--rev REV]`: finding code at a revision and summarising it."""

from __future__ import annotations

import json

import pytest

from narrator.engines.guard import Verdict
from narrator.errors import RevisionError, UsageError
from narrator.explain import SymbolNotFoundError, explain, find_unit, heuristic_summary, parse_target
from narrator.git.walker import Repository

PY = '''"""Shopping basket arithmetic."""

import math


def helper():
    return 1


class Cart:
    """A customer's basket of items."""

    def __init__(self):
        self.items = []

    @property
    def total(self):
        """Sum of the prices, taxes included."""
        return math.fsum(i.price for i in self.items)
'''

JS = """// Basket helpers for the web shop.
import { tax } from './tax.js';

// Adds up every price in the basket.
export function total(items) {
  let sum = 0;
  for (const item of items) { sum += item.price; }
  return sum * (1 + tax);
}

export const discount = (items, rate) => {
  return total(items) * rate;
};

class Basket {
  add(item) {
    this.items.push(item);
  }
}
"""

GO = """package cart

// Total adds up the prices of all items.
func (c *Cart) Total() float64 {
	s := 0.0
	for _, it := range c.Items {
		s += it.Price
	}
	return s
}
"""

RUBY = """class Cart
  # Adds up the prices.
  def total
    items.sum(&:price)
  end

  def empty?
    items.empty?
  end
end
"""


def test_parse_target():
    assert parse_target("app/cart.py:Cart.total") == ("app/cart.py", "Cart.total")
    assert parse_target("app/cart.py") == ("app/cart.py", None)
    assert parse_target("C:/x.py") == ("C:/x.py", None)
    with pytest.raises(UsageError):
        parse_target("app/cart.py:not a name")


def test_python_symbols_via_ast():
    unit = find_unit(PY, "app/cart.py", "Cart.total")
    assert unit.kind == "method" and unit.code.lstrip().startswith("@property") and "fsum" in unit.code
    assert (unit.start_line, unit.end_line) == (16, 19) and unit.doc == "Sum of the prices, taxes included."
    assert find_unit(PY, "app/cart.py", "total").name == "total"
    cls = find_unit(PY, "app/cart.py", "Cart")
    assert cls.kind == "class" and "__init__" in cls.code and cls.doc == "A customer's basket of items."
    whole = find_unit(PY, "app/cart.py", None)
    assert whole.kind == "file" and whole.doc == "Shopping basket arithmetic."
    with pytest.raises(SymbolNotFoundError, match="no function or class named 'Cart.price'"):
        find_unit(PY, "app/cart.py", "Cart.price")


OVERLOADED = '''import typing
from typing import overload


class Store:
    @overload
    def get(self, key: str) -> str: ...

    @typing.overload
    def get(self, key: int) -> bytes: ...

    def get(self, key):
        """Look a value up by name or by position."""
        return self.items[key]

    @property
    def size(self):
        return len(self.items)

    @size.setter
    def size(self, value):
        raise AttributeError("read-only")


@overload
def parse(text: str) -> int: ...
@overload
def parse(text: bytes) -> int: ...
def parse(text):
    return int(text)
'''


def test_python_explain_picks_the_implementation_over_overload_stubs():
    method = find_unit(OVERLOADED, "app/store.py", "Store.get")
    assert "return self.items[key]" in method.code and "overload" not in method.code
    assert method.doc == "Look a value up by name or by position."
    assert find_unit(OVERLOADED, "app/store.py", "get").code == method.code  # found by its name alone too
    function = find_unit(OVERLOADED, "app/store.py", "parse")
    assert function.code.strip() == "def parse(text):\n    return int(text)"
    getter = find_unit(OVERLOADED, "app/store.py", "Store.size")
    assert "len(self.items)" in getter.code  # a property's getter, not its setter
    stubs_only = "from typing import overload\n\n@overload\ndef f(x: int) -> int: ...\n@overload\ndef f(x: str) -> str: ...\n"
    assert find_unit(stubs_only, "app/f.pyi", "f").start_line == 3


def test_other_languages_by_patterns():
    fn = find_unit(JS, "web/basket.js", "total")
    assert fn.code.startswith("export function total") and fn.code.rstrip().endswith("}")
    assert fn.doc == "Adds up every price in the basket."
    arrow = find_unit(JS, "web/basket.js", "discount")
    assert arrow.code.startswith("export const discount") and arrow.code.rstrip().endswith("};")
    method = find_unit(JS, "web/basket.js", "Basket.add")
    assert method.code.strip().startswith("add(item)") and "push" in method.code
    go = find_unit(GO, "cart/cart.go", "Total")
    assert go.code.startswith("func (c *Cart) Total") and go.end_line == 10 and go.doc.startswith("Total adds up")
    rb = find_unit(RUBY, "lib/cart.rb", "total")
    assert rb.code.strip().startswith("def total") and rb.code.strip().endswith("end") and "empty" not in rb.code


def test_explain_at_a_revision_with_heuristic_and_scripted_engines(git_repo):
    git_repo.commit("feat: cart", {"app/cart.py": PY})
    first = git_repo.git("rev-parse", "HEAD")
    git_repo.commit("refactor: drop cart", {"app/cart.py": "x = 1\n"})
    result = explain(Repository.open(str(git_repo.path)), "app/cart.py:Cart.total", rev=first)
    assert result.source == "heuristic" and result.unit.start_line == 16
    assert result.text == ("The Python method Cart.total in app/cart.py (lines 16-19): sum of the prices, "
                           "taxes included.")
    with pytest.raises(SymbolNotFoundError):
        explain(Repository.open(str(git_repo.path)), "app/cart.py:Cart.total")  # gone at HEAD
    with pytest.raises(RevisionError):
        explain(Repository.open(str(git_repo.path)), "app/cart.py", rev="no-such-branch")

    class Scripted:
        name = "scripted"

        def __init__(self, reply):
            self.reply = reply
            self.seen = []

        def explain_code(self, code, language, name=None, path=""):
            self.seen.append(code)
            return (self.reply, Verdict(True)) if self.reply else (None, Verdict(False, "names not in the commit: x"))

    ok = explain(Repository.open(str(git_repo.path)), "app/cart.py:Cart.total", rev=first,
                 engine=Scripted("Adds up the prices of everything in the basket."))
    assert ok.source == "model" and ok.text.startswith("Adds up")
    rejected = explain(Repository.open(str(git_repo.path)), "app/cart.py:Cart.total", rev=first, engine=Scripted(None))
    assert rejected.source == "heuristic" and rejected.fallback_reason.startswith("names not in")


def test_explain_refuses_secrets_and_binaries(git_repo):
    git_repo.commit("chore", {".env": "TOKEN=abc\n", "logo.png": bytes(range(256))})
    with pytest.raises(UsageError, match="holds secrets"):
        explain(Repository.open(str(git_repo.path)), ".env")
    with pytest.raises(UsageError, match="binary"):
        explain(Repository.open(str(git_repo.path)), "logo.png")


def test_generating_engine_explain_code_guards_and_redacts():
    from narrator.engines.generation import GeneratingEngine

    class Echo(GeneratingEngine):
        name = "echo"
        batch_size = 1

        def __init__(self, reply):
            self.reply = reply
            self.seen = []

        def _generate(self, texts):
            self.seen += texts
            return [self.reply] * len(texts)

        def _identity(self):
            return {}

    code = 'def connect():\n    password = "hunter2hunter2"\n    return open_db(password)\n'
    good = Echo("Opens a connection to the database using the stored password.")
    text, verdict = good.explain_code(code, "Python", "connect", "app/db.py")
    assert verdict.ok and text.startswith("Opens") and "hunter2hunter2" not in good.seen[0]
    invented = Echo("Calls reconnect_pool() when the socket drops.")
    text, verdict = invented.explain_code(code, "Python", "connect", "app/db.py")
    assert text is None and "reconnect_pool" in verdict.reason


def test_cli_explain_and_engines_commands(git_repo):
    from click.testing import CliRunner

    from narrator.cli.engines import engines_command
    from narrator.cli.explain import explain_command

    git_repo.commit("feat: cart", {"app/cart.py": PY})
    runner = CliRunner()
    result = runner.invoke(explain_command, ["app/cart.py:helper", "--repo", str(git_repo.path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["symbol"] == "helper" and data["source"] == "heuristic" and data["start_line"] == 6
    listed = runner.invoke(engines_command, ["--repo", str(git_repo.path), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    names = {e["name"]: e for e in json.loads(listed.output)}
    assert {"heuristic", "hf", "openai"} <= set(names) and names["heuristic"]["selected"]
    assert heuristic_summary(find_unit(PY, "app/cart.py", "helper")).endswith("has no description of its own.")
