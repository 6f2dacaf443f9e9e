"""Turning Markdown / reStructuredText snippets into plain text without ever rewriting inside a token.

One job: ``clean_markup(text)`` removes markup a reader should not see and nothing else. What goes:

- reST and MyST roles: ``:func:`~a.b``` or ``{func}`~a.b``` -> ``b``, ``:class:`Title <target>``` -> ``Title``; reference roles
  (``:issue:`` ``:pr:`` ``:ghsa:`` ``:user:`` ``:cve:`` ...) are dropped (``refs.find_refs`` keeps them);
- code spans: ````code```` and ```code``` -> ``code`` (their content is copied byte for byte; when a span holds a
  word of English grammar, every one-word span of the text keeps quotes, so "Implement `and` and `or`" does not
  read "and and or");
- links: ``[text](url)``, ``[text][ref]``, ``![alt](img)``, reST ```text <url>`_`` -> their text;
  ``<https://x>`` -> the URL;
- emphasis markers: ``**b**``, ``*e*``, ``__b b__``, ``_e e_``, ``~~s~~`` (only when they flank words);
- lower-case HTML formatting tags that come in pairs (``<b>x</b>``, ``<code>x</code>``), ``<br>``, ``<a href>``
  links (a lone ``<p>`` or ``<img/>`` is kept: it may be what the sentence is about), HTML comments, fenced code blocks,
  HTML character references outside code (``&amp;`` -> ``&``), ``{% raw %}``/``{% endraw %}`` template tags, link
  targets that start with a template expression (``[#12]({{ site.repository }}/issues/12)`` -> ``#12``),
  reST directive lines, Markdown backslash escapes (``should\\_ignore\\_error`` -> ``should_ignore_error``);
- whitespace runs (collapsed to one space).

What stays byte-identical: every token that names something. Paths (``docs/results.md``), flags
(``--no-deps``), identifiers (``should_ignore_error``, ``__init__``, ``config.audit.*``, ``*args``,
``**kwargs``, ``Foo<B>``, ``a[0][1]``), versions (``2.10.0-RC2``), numbers and globs (``src/**/*.md``).
There are no word substitutions here at all: emphasis is only taken off when its markers stand outside a
word (``*not*``, ``**Security:**``), never inside one (``a_b_c``, ``__init__``, ``config.audit.*``).

``strip_credits`` removes the trailing/leading bookkeeping of changelog entries (``(#123)``, ``by @user``,
``Fixes #12``, ``#123:``), used by ``clean_entry``.
"""

from __future__ import annotations

import html
import re

__all__ = ["clean_markup", "strip_credits", "clean_entry", "first_sentence", "GRAMMAR_WORDS"]

_HTML_COMMENT = re.compile(r"<!--.*?(-->|$)", re.S)
_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?(^[ \t]*\1[ \t]*$|\Z)", re.S | re.M)
_DIRECTIVE = re.compile(r"^[ \t]*\.\. [\w:-]+::.*$", re.M)
_REF_ROLES = frozenset({"issue", "issues", "pr", "prs", "pull", "pulls", "ghsa", "cve", "user", "users", "gh",
                        "ghissue", "ghpull", "bug", "bpo", "commit", "sha", "cwe", "discussion", "ghuser"})
# a role's body in one pair of backticks, or (a common slip: flask's ":class:``flask.wrappers.Response``") two
_ROLE = re.compile(r"(?<!`):(?:[\w.+-]+:)*?(?P<name>[\w+-]+):(?P<tick>``?)(?P<body>[^`]+)(?P=tick)(?!`)")
# a reference role a backtick short (flask 3.1.1's ":issue:5673`"): dropped too, never shown as written
_LOOSE_REF_ROLE = re.compile(r"(?<![\w`:/]):(?:" + "|".join(sorted(_REF_ROLES)) + r"):`?[\w#./-]+`?(?![\w`])")
_MYST_ROLE = re.compile(r"(?<!`)\{(?P<name>[\w+-]+)(?::[\w+-]+)*\}`(?P<body>[^`]+)`(?!`)")  # MyST: {func}`name`
_REST_LINK = re.compile(r"`(?P<text>[^`<]*?)\s*<(?P<url>[^`>]*)>`__?")
_REST_REF = re.compile(r"(?<![`\w])`(?P<text>[^`]+)`__?(?![\w])")
_CODE = re.compile(r"(?<!`)(?P<ticks>`+)(?!`)(?P<body>.+?)(?<!`)(?P=ticks)(?!`)")
# A link target may start with a template expression (Jekyll's ``[#12]({{ site.repository }}/issues/12)``).
_URL = r"(?:\{\{[^{}()\n]*\}\}|\{%[^{}()\n]*%\})?[^()\s]*(?:\([^()\s]*\)[^()\s]*)*"
_IMAGE = re.compile(r"!\[(?P<text>[^\]\[]*)\]\((?P<url>" + _URL + r")(?:\s+\"[^\"]*\")?\)")
_LINK = re.compile(r"(?<!\\)\[(?P<text>[^\]\[]*(?:\[[^\]\[]*\][^\]\[]*)*)\]"
                   r"\((?P<url>" + _URL + r")(?:\s+\"[^\"]*\")?\)")
# Template tags that only protect text from a site generator: ``{% raw %}{{ jekyll }}{% endraw %}``.
_RAW_TAG = re.compile(r"\{%-?\s*(?:raw|endraw)\s*-?%\}")
# HTML character references (``&amp;``, ``&#34;``, ``&#x27;``) written into Markdown changelogs.
_ENTITY = re.compile(r"&(?:[A-Za-z]{2,8}|#\d{1,6}|#[xX][0-9A-Fa-f]{1,6});")
_REF_LINK = re.compile(r"(?<![\w\]\\])\[(?P<text>[^\]\[]+)\]\[[^\]\[]*\]")
_AUTOLINK = re.compile(r"<(?P<url>(?:https?|ftp|mailto):[^\s<>]+)>")
# HTML: only formatting tags that come as an open/close pair (``<b>x</b>``), ``<br>``, and links with an href.
# A lone ``<p>`` or ``<svg><img/></svg>`` is the subject of the sentence (an HTML parser's changelog), so it stays.
_HTML_PAIR = re.compile(r"(?<![\w<])<(?P<tag>b|i|u|s|em|strong|code|kbd|samp|var|tt|sup|sub|del|ins|small|mark|span|"
                        r"strike|cite|q|abbr|p|div|pre|details|summary|center|font)(?:\s+[a-z-]+=(?:\"[^\"]*\"|'[^']*'))*>"
                        r"(?P<body>.*?)</(?P=tag)>")
_HTML_LINK = re.compile(r"<a\s+[^>]*href=(?:\"[^\"]*\"|'[^']*')[^>]*>(?P<body>.*?)</a>", re.I)
_HTML_BREAK = re.compile(r"(?<![\w<])<br\s*/?>|<hr\s*/?>")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+.!|~<>-])")
# Emphasis: the opening marker follows a start/space/opening bracket and precedes a word character; the
# closing one follows a word character and precedes an end/space/punctuation. Nothing inside a token
# (a_b_c, __init__, config.audit.*, *args, **/*.md) can satisfy both.
_OPEN = r"(?:(?<=^)|(?<=[\s(\[{\"'\u2018\u201c]))"
_CLOSE = r"(?=$|[\s)\]},.;:!?\"'\u2019\u201d])"
_STRONG_STAR = re.compile(_OPEN + r"(\*\*\*?)(?=[\w\x00(\"'`$@#~-])(?P<body>[^*\n]*?[\w\x00)\"'`.!?:])\1" + _CLOSE)
_EM_STAR = re.compile(_OPEN + r"\*(?=[\w\x00(\"'`$@#~-])(?P<body>[^*\n]*?[\w\x00)\"'`!?])\*" + _CLOSE)
_STRONG_UNDER = re.compile(_OPEN + r"__(?=[A-Za-z\x00])(?P<body>[^_\n]*\s[^_\n]*?[A-Za-z\x00.!?:])__" + _CLOSE)
_EM_UNDER = re.compile(r"(?:(?<=^)|(?<=[\s(\[{]))_(?=[A-Za-z\x00])(?P<body>[A-Za-z\x00][A-Za-z\x00 ,'-]*[A-Za-z\x00]|[A-Za-z])_"
                       + _CLOSE)
_STRIKE = re.compile(_OPEN + r"~~(?=\S)(?P<body>[^~\n]*?\S)~~" + _CLOSE)
_SPACE = re.compile(r"\s+")
_MARKUP_CHARS = re.compile(r"[`*_\[<\\~:!&{]|\.\. |``")
_MARK = re.compile("\x00(\\d+)\x00")


class _Vault:
    """Placeholders for text that must come back byte for byte (code spans, role bodies, escapes)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def put(self, text: str) -> str:
        self.items.append(text)
        return f"\x00{len(self.items) - 1}\x00"

    def restore(self, text: str) -> str:
        for _ in range(8):  # placeholders may nest (a link text holding a code span)
            if "\x00" not in text:
                break
            text = _MARK.sub(lambda m: self.items[int(m.group(1))], text)
        return text


def _role(match: re.Match[str], vault: _Vault) -> str:
    name = match.group("name").lower()
    body = match.group("body")
    if name in _REF_ROLES:
        return ""
    target = re.match(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", body, re.S)
    if target and target.group("title"):
        return vault.put(target.group("title"))
    body = body.strip()
    if body.startswith("~"):
        body = body[1:].rsplit(".", 1)[-1]
    elif body.startswith("!"):
        body = body[1:]
    return vault.put(body)


# Code spans holding a word of English grammar ("Implement `and` and `or` in `Matcher`") keep quotes: bare, the
# sentence would read "Implement and and or in Matcher".
GRAMMAR_WORDS = frozenset("and or not in is if for with as of to the a an at by on from this that then else do "
                           "while when where no yes all any none some".split())


_WORD_SPAN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _code(match: re.Match[str], vault: _Vault, quote_words: bool = False) -> str:
    body = match.group("body")
    if len(body) > 2 and body[0] == " " and body[-1] == " " and body.strip():
        body = body[1:-1]  # CommonMark: one space of padding on each side is not content
    if quote_words and _WORD_SPAN.fullmatch(body):
        return vault.put(f"\u201c{body}\u201d")
    return vault.put(body)


def _has_grammar_span(text: str) -> bool:
    """Whether a code span holds a word of English grammar: then every one-word span of the text keeps quotes
    ("such as \u201cin\u201d and \u201clen\u201d", not "such as in and len")."""
    return any(m.group("body").strip().lower() in GRAMMAR_WORDS for m in _CODE.finditer(text))


def clean_markup(text: str) -> str:
    """Plain one-line text from a Markdown/reST snippet; tokens are never changed (see the module docstring)."""
    if not text:
        return ""
    if not _MARKUP_CHARS.search(text):  # plain text (most commit subjects): nothing to take off
        flat = " ".join(text.split())
        return text if flat == text else flat  # the text itself: a judgment's description shares its subject
    text = text.replace("\x00", "")
    if "<!--" in text:
        text = _HTML_COMMENT.sub(" ", text)
    if "```" in text or "~~~" in text:
        text = _FENCE.sub(" ", text)
    if ".. " in text:
        text = _DIRECTIVE.sub(" ", text)
    if "{%" in text:
        text = _RAW_TAG.sub("", text)
    text = _SPACE.sub(" ", text).strip()
    vault = _Vault()
    if "`" in text:
        if ":`" in text:
            text = _ROLE.sub(lambda m: _role(m, vault), text)
        if "}`" in text:
            text = _MYST_ROLE.sub(lambda m: _role(m, vault), text)
        if ">`_" in text:
            text = _REST_LINK.sub(lambda m: vault.put(m.group("text") or m.group("url")), text)
        if "`_" in text:
            text = _REST_REF.sub(lambda m: vault.put(m.group("text")), text)
        quote_words = _has_grammar_span(text)
        text = _CODE.sub(lambda m: _code(m, vault, quote_words), text)
    if ":" in text:  # after the well-formed roles (in the vault now)
        text = _LOOSE_REF_ROLE.sub("", text)
    if "\\" in text:  # after code spans: a backslash inside code is literal
        text = _ESCAPE.sub(lambda m: vault.put(m.group(1)), text)
    if "[" in text:
        text = _IMAGE.sub(lambda m: m.group("text"), text)
        text = _LINK.sub(lambda m: m.group("text"), text)
        text = _REF_LINK.sub(lambda m: m.group("text"), text)
    if "<" in text:
        text = _AUTOLINK.sub(lambda m: vault.put(m.group("url")), text)
        text = _HTML_LINK.sub(lambda m: m.group("body"), text)
        for _ in range(3):  # nested pairs
            text = _HTML_PAIR.sub(lambda m: m.group("body"), text)
        text = _HTML_BREAK.sub(" ", text)
    if "*" in text:
        text = _STRONG_STAR.sub(lambda m: m.group("body"), text)
        text = _EM_STAR.sub(lambda m: m.group("body"), text)
    if "_" in text:
        text = _STRONG_UNDER.sub(lambda m: m.group("body"), text)
        text = _EM_UNDER.sub(lambda m: m.group("body"), text)
    if "~~" in text:
        text = _STRIKE.sub(lambda m: m.group("body"), text)
    if "&" in text:  # outside code spans (they are in the vault): there ``&amp;`` is what was written
        text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    text = vault.restore(text)
    text = _SPACE.sub(" ", text).strip()
    # parentheses left empty once their references are gone ("(:pr:`44`, :issue:`45`)") go too
    return re.sub(r"\s+([,.;:!?)])(?=\s|$)", r"\1", re.sub(r"(?<!\S)\((?:\s*[,;])*\s*\)", "", text)).strip()


_TRAILING_CREDITS = [
    # GitHub's generated release notes: "* Fix x by @user in https://github.com/o/r/pull/12"
    re.compile(r"\s+(?:by\s+@[\w-]+(?:\s*(?:,|and|&)\s*@[\w-]+)*\s+)?in\s+https?://\S+/(?:pull|issues|merge_requests)/\d+\s*\.?$"),
    re.compile(r"\s*[(\[]\s*(?:(?:#|GH-|!)\d+|[\w.-]+/[\w.-]+#\d+|@[\w-]+|GHSA-[\w-]+|CVE-\d+-\d+)"
               r"(?:\s*(?:,|and|&)\s*(?:(?:#|GH-|!)\d+|[\w.-]+/[\w.-]+#\d+|@[\w-]+|GHSA-[\w-]+|CVE-\d+-\d+))*"
               r"\s*[)\]]\s*\.?$"),
    re.compile(r"\s*[-\u2013\u2014,]?\s*(?:by|thanks to|thanks|thank you|via|from|props to|kudos to|contributed by)"
               r"\s+@[\w-]+(?:\s*(?:,|and|&)\s*@[\w-]+)*\s*[.!]?\)?$", re.I),
    re.compile(r"\s*[-\u2013\u2014]\s*@[\w-]+(?:\s*(?:,|and|&)\s*@[\w-]+)*\s*\.?$"),
    re.compile(r"\s*[(\[]@[\w-]+(?:\s*(?:,|and|&)\s*@[\w-]+)*[)\]]\s*\.?$"),
    re.compile(r"[.;,]?\s*\(?(?:fix(?:es|ed)?|close[sd]?|resolve[sd]?|refs?|see|related(?: to)?|part of|issue|pr)"
               r":?\s+(?:#|GH-)\d+(?:\s*(?:,|and|&)\s*(?:#|GH-)?\d+)*\)?\s*\.?$", re.I),
    re.compile(r"\s*(?:#|GH-)\d+(?:\s*,\s*(?:#|GH-)\d+)*\s*$"),
]
# What a match of each of them must hold (one of these): a pattern anchored only at the end is tried from every
# position of the text, so it is tried only on a text that can hold it.
_TRAILING_NEEDS = [("://",), ("#", "-", "!", "@"), ("@",), ("@",), ("@",), ("#", "-"), ("#", "GH-")]
# "#123: Fix ...", "[#123] Fix ...", and a bare number before a capitalised sentence: "#13002 Improve logging ..."
_LEADING_CREDITS = re.compile(r"^(?:(?:#|GH-)\d+(?:\s*[:.)-]\s*|\s+(?=[A-Z][a-z]))|\[(?:#|GH-)?\d+\]\s*[:.-]?\s*)")


def strip_credits(text: str) -> str:
    """``text`` without trailing ``(#123)``, ``[#123]``, ``by @user``, ``- @user``, ``Fixes #12`` or a leading
    ``#123:`` (the references themselves are found by ``refs.find_refs`` on the raw text)."""
    text = text.strip()
    if "#" not in text and "@" not in text and "GH-" not in text and "!" not in text and "GHSA" not in text \
            and "CVE" not in text and "://" not in text:
        return text  # every credit pattern needs one of these
    previous = None
    while previous != text:
        previous = text
        text = _LEADING_CREDITS.sub("", text)
        for pattern, needs in zip(_TRAILING_CREDITS, _TRAILING_NEEDS):
            if not any(needle in text for needle in needs):
                continue
            stripped = pattern.sub("", text)
            if stripped != text and len(stripped.strip()) >= 3:
                text = stripped.rstrip()
    return text


def clean_entry(raw: str) -> str:
    """A changelog entry as plain text: markup off (``clean_markup``), credits off (``strip_credits``)."""
    lines = [line for line in raw.split("\n") if not re.match(r"^\s*\*[A-Z][\w .'-]{1,60}\*\s*$", line)]
    return strip_credits(clean_markup("\n".join(lines)))


# (the stop first: a pattern starting with a class of characters is searched for at C speed; the character before
# it is then looked at behind)
_SENTENCE_END = re.compile(r"[.!?](?<=[a-z0-9)\"'`][.!?])(?=\s+[A-Z(`\"'])")


def first_sentence(text: str) -> str:
    """The first sentence of a paragraph (a dot followed by a capital ends it; ``e.g.``/``v1.2`` do not)."""
    text = text.strip()
    for m in _SENTENCE_END.finditer(text):
        before = text[:m.start()].rsplit(" ", 1)[-1].lower()
        if before in ("e.g", "i.e", "etc", "vs", "cf", "mr", "dr", "no", "approx", "incl"):
            continue
        return text[:m.end()].strip()
    return text
