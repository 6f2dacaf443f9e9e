"""The faithfulness guard, output cleaning and secret redaction (no model needed)."""

from __future__ import annotations

import pytest

from narrator.engines.guard import Context, check, clean_output, unknown_names
from narrator.engines.redact import MASK, is_secrets_file, redact, redact_files
from narrator.prompts import FileDiff

CONTEXT = Context([
    "Fix retry loop in narrator/net/client.py",
    "+def fetch_with_retry(url, attempts=3):\n+    for attempt in range(attempts):\n+        timeout = 30",
])


@pytest.mark.parametrize("text", [
    "Fixed the retry loop so that failed downloads are tried again.",
    "The client now tries a download up to 3 times before giving up.",
    "Added fetch_with_retry to client.py so that network hiccups no longer break the import.",
    "Documented the retry loop in the README and the API documentation on GitHub.",
])
def test_faithful_sentences_pass(text):
    assert check(text, CONTEXT).ok, check(text, CONTEXT).reason


@pytest.mark.parametrize("text, reason", [
    ("", "empty output"),
    ("   ", "empty output"),
    ("Fixed it", "output too short"),
    ("the retry the retry the retry the retry the retry the retry", "degenerate repetition"),
    ("aaaaaaaaaaaaaaaaaaaaaaaa is what it does now", "degenerate repetition"),
    ("Adds the narrator/net/client.py file to the narrator/net/client.py file.", "degenerate repetition"),
    ("Add client.py to client.py.", "degenerate repetition"),
    ("Explain in one sentence what this change does and why it matters.", "prompt echo"),
    ("This sentence describes a single change to the same file.", "prompt echo"),
    ("```diff\n+def fetch_with_retry(url, attempts=3):\n```", "prompt echo"),
    ("Ce changement corrige la boucle de nouvelle tentative du client réseau.", "not English"),
    ("这个改动修复了客户端的重试循环问题", "not English"),
    ("Fixed parse_headers in http_utils.py so that 42 requests work.", "names not in the commit"),
    ("Renamed the fetchWithRetries helper.", "names not in the commit"),
    ("Bumped the timeout to 45 seconds.", "names not in the commit"),
])
def test_bad_sentences_are_rejected(text, reason):
    verdict = check(text, CONTEXT)
    assert not verdict.ok
    assert verdict.reason.startswith(reason)


def test_unknown_names_lists_only_invented_ones():
    found = unknown_names("Changed fetch_with_retry in client.py and added parse_body() to server.go.", CONTEXT)
    assert found == ["server.go", "parse_body"] or set(found) == {"server.go", "parse_body"}


def test_sentences_must_say_something_specific():
    assert check("This is a great example of how a small change can have a significant impact.", CONTEXT).reason \
        == "says nothing specific to the change"
    assert check("The client now retries failed downloads.", CONTEXT).ok
    assert not check("The client now retries failed downloads.", CONTEXT, min_grounded=3).ok


def test_verbatim_copy_of_the_diff_is_an_echo():
    prompt = "def compute the total price of every item in the basket including taxes and shipping costs"
    text = "compute the total price of every item in the basket including taxes and shipping costs"
    assert check(text, Context([prompt]), prompt).reason == "prompt echo"


def test_clean_output_keeps_whole_sentences_and_one_paragraph():
    assert clean_output('  "Fixed the login page."  ') == "Fixed the login page."
    assert clean_output("Fixed the login page. It also adds tests. And more.", max_sentences=2) == \
        "Fixed the login page. It also adds tests."
    assert clean_output("Fixed the login page. It also adds tests.") == "Fixed the login page."
    assert clean_output("Fixed the login page.\n\nHere is the diff:") == "Fixed the login page."
    assert clean_output("Fixed the login page. Then it was cut off mid") == "Fixed the login page."
    assert clean_output("Answer: Fixed the login page") == "Fixed the login page."


# -- redaction ------------------------------------------------------------------------------------------

SECRETS = {
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "openai": "sk-" + "proj-abcdefghijklmnopqrstuvwxyz123456",
    "slack": "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "password": "hunter2hunter2",
    "dsn_password": "s3cr3t-pw",
    "conn_password": "P@ssw0rd!x",
    "bearer": "abcdef0123456789abcdef0123456789",
}

DIFF = f"""diff --git a/settings.py b/settings.py
+AWS_KEY = "{SECRETS['aws']}"
+GITHUB_TOKEN = '{SECRETS['github']}'
+client = OpenAI(api_key="{SECRETS['openai']}")
+SLACK = "{SECRETS['slack']}"
+session = "{SECRETS['jwt']}"
+DB_PASSWORD = {SECRETS['password']}
+DATABASE_URL = "postgres://app:{SECRETS['dsn_password']}@db.example.com:5432/app"
+conn = "Server=tcp:db;Database=app;User Id=app;Password={SECRETS['conn_password']};"
+headers = {{"Authorization": "Bearer {SECRETS['bearer']}"}}
+-----BEGIN RSA PRIVATE KEY-----
+MIIEowIBAAKCAQEAsecretsecretsecretsecret
+-----END RSA PRIVATE KEY-----
+password = os.environ["DB_PASSWORD"]
+token = request_token
+timeout = 30
"""


def test_redact_masks_every_kind_of_secret_and_keeps_the_rest():
    out = redact(DIFF)
    for name, value in SECRETS.items():
        assert value not in out, name
    assert "MIIEowIBAAKCAQEA" not in out
    assert out.count(MASK) >= len(SECRETS)
    # names and structure stay, so the model can still say what changed
    assert "DATABASE_URL" in out and "db.example.com" in out and "postgres://app:" in out
    assert 'password = os.environ["DB_PASSWORD"]' in out
    assert "token = request_token" in out
    assert "timeout = 30" in out
    assert redact(out) == out


def test_secrets_files_are_never_sent():
    files = [FileDiff(".env", "+API_KEY=abc123def456"), FileDiff("deploy/id_rsa", "+-----BEGIN"),
             FileDiff("config/prod.env", "+X=1"), FileDiff("app.py", f"+key = '{SECRETS['github']}'")]
    safe = redact_files(files)
    assert safe[0].diff == "" and safe[1].diff == ""
    assert SECRETS["github"] not in safe[3].diff
    assert is_secrets_file(".env.production") and is_secrets_file("certs/server.pem")
    assert not is_secrets_file("docs/env.md")


# -- verbs of change checked against the diff and the message ------------------------------------------

def _orders_context(message: str = "feat: orders API") -> Context:
    files = [FileDiff(path="app/orders.py", change_type="added",
                      diff="+@app.route('/orders')\n+def list_orders():\n+    return Order.query.all()\n")]
    texts = [message, "app/orders.py", files[0].diff]
    return Context(texts, message=message, files=files)


def test_a_removal_claimed_for_a_commit_that_adds_it_is_rejected():
    verdict = check("Removed the orders endpoint.", _orders_context())
    assert not verdict.ok and verdict.reason == "claims a removal the diff does not show"
    assert check("Added an endpoint that lists the orders.", _orders_context()).ok


def test_a_fix_needs_the_message_to_say_so():
    assert check("Fixed the orders endpoint.", _orders_context("feat: orders API")).reason \
        == "claims a fix the message does not mention"
    assert check("Fixed the orders endpoint.", _orders_context("Fix the orders endpoint crash")).ok


def test_a_deprecation_or_rename_needs_its_evidence():
    assert check("Deprecated the orders endpoint.", _orders_context()).reason \
        == "claims a deprecation the diff does not show"
    assert check("Renamed the orders endpoint.", _orders_context()).reason == "claims a rename the diff does not show"


def test_an_addition_claimed_for_a_pure_deletion_is_rejected():
    files = [FileDiff(path="app/legacy.py", change_type="deleted", diff="-def legacy_export():\n-    pass\n")]
    ctx = Context(["chore: legacy export", "app/legacy.py", files[0].diff], message="chore: legacy export",
                  files=files)
    assert check("Added the legacy export.", ctx).reason == "claims an addition the diff does not show"
    assert check("Removed the legacy export.", ctx).ok


def _moved_property_context(message: str = "add back opening session on context push") -> Context:
    # flask a411a243: the `session` property is moved below a new private method, not created
    diff = ("-    @property\n-    def session(self) -> SessionMixin:\n+    def _get_session(self) -> SessionMixin:\n"
            "+    @property\n+    def session(self) -> SessionMixin:\n+        session = self._get_session()\n")
    files = [FileDiff(path="src/flask/ctx.py", change_type="modified", diff=diff)]
    return Context([message, "src/flask/ctx.py", diff], message=message, files=files)


def test_a_new_thing_needs_a_definition_the_diff_does_not_also_remove():
    ctx = _moved_property_context()
    assert check("Added a new property to the session object for session access.", ctx).reason \
        == "claims a new property the diff does not define"
    assert check("Added a new method that opens the session.", ctx).ok  # _get_session is new
    assert check("Added a new class for the session.", ctx).reason == "claims a new class the diff does not define"
    # the developer says it is a new property: the message backs the claim
    assert check("Added a new property for the session.", _moved_property_context("new property: session")).ok
    # a property that is really new, in Python and in C#/JavaScript styles
    for added in ("+    @cached_property\n+    def total(self):\n", "+  get total() {\n", "+  public int Total { get; }\n"):
        files = [FileDiff(path="shop/cart.py", change_type="modified", diff=added)]
        ctx = Context(["cart total", added], message="cart total", files=files)
        assert check("Added a new property for the cart total.", ctx).ok, added
    # a Java method rewritten in place is not new; one with a new name is
    same = "-    public int total(Cart cart) {\n+    public int total(Cart cart, Tax tax) {\n"
    files = [FileDiff(path="Cart.java", change_type="modified", diff=same)]
    ctx = Context(["tax in cart total", same], message="tax in cart total", files=files)
    assert check("Added a new method for the cart total with tax.", ctx).reason \
        == "claims a new function the diff does not define"


def test_plain_text_removes_rest_roles_and_markdown_markup():
    from narrator.engines.guard import plain_text

    assert plain_text("Deprecated :meth:`~flask.Flask.should_ignore_error` (:pr:`5899`).") \
        == "Deprecated should_ignore_error."
    assert plain_text("The :class:`Request <flask.Request>` object **now** keeps `json`.") \
        == "The Request object now keeps json."
    assert plain_text("See [the docs](https://example.com/x) for _more_.") == "See the docs for _more_."


PHP_CODE = '''public function getUserName(int $userId): ?string
{
    if (!isset($this->users[$userId])) {
        return null;
    }
    return $this->users[$userId]->name;
}

public function greet(): string
{
    return "Grüß Gott, " . $this->name . " from the Café Müller";
}
'''


@pytest.mark.parametrize("text", [
    "Returns the name of the user with the given $userId.",
    "Gets $this->users[$userId]->name, or null when the user is not set.",
    "Get user name.",
    "getUserName returns the user's name or null.",
    "Returns a greeting from the Café Müller.",  # accented words copied from the code are not a foreign language
])
def test_php_code_summaries_are_english(text):
    verdict = check(clean_output(text), Context([PHP_CODE, "getUserName", "src/User.php", "PHP"]))
    assert verdict.ok, verdict.reason


def test_accented_words_not_in_the_material_still_count_as_foreign():
    context = Context([PHP_CODE, "greet", "src/User.php", "PHP"])
    assert check("Gibt eine Begrüßung für den Benutzer zurück.", context).reason == "not English"
    assert check("Возвращает имя пользователя Café Müller.", context).reason == "not English"


def test_a_sentence_may_not_state_what_the_message_negates():
    # flask 5044f3d6: "TypeError: Type str doesn't support the buffer API" became "Python 3.4.2 now supports the
    # buffer API."
    message = "Update testing.rst\n\nPython 3.4.2\nTypeError: Type str doesn't support the buffer API"
    diff = "-       assert 'You were logged in' in rv.data\n+       assert b'You were logged in' in rv.data\n"
    files = [FileDiff(path="docs/testing.rst", change_type="modified", diff=diff)]
    ctx = Context([message, "docs/testing.rst", diff], message=message, files=files)
    assert check("Python 3.4.2 now supports the buffer API.", ctx).reason == "says the opposite of the commit"
    assert check("Strings in the testing docs no longer need the buffer API on Python 3.4.2.", ctx).ok
    assert check("The testing guide compares bytes, as str doesn't support the buffer API.", ctx).ok


def test_one_name_joined_to_itself_is_a_loop():
    # flask f0d3b71a: the changelog entry names is_json and get_json; the model wrote get_json twice
    from narrator.engines.guard import _is_repetitive

    assert _is_repetitive("Flask.wrappers.Response now supports the get_json() and get_json() methods.")
    assert _is_repetitive("Added retries, retries and timeouts.")
    assert not _is_repetitive("Added is_json and get_json to the response.")
