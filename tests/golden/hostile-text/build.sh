#!/bin/sh
# Commit text is untrusted: one week (9 to 15 March 2026) of commits whose subjects, bodies, author names and
# file names carry HTML and <script>, Markdown links, images and table pipes, Jinja {{ }} / {% %}, ANSI colour
# and OSC (title, hyperlink) escapes, and bidi controls. Every output must keep them inert.
. "$(dirname "$0")/../lib.sh"
start_repo "${1:?usage: build.sh DIR}"

ESC=$(printf '\033')
BEL=$(printf '\007')
RLO=$(printf '\342\200\256')   # U+202E RIGHT-TO-LEFT OVERRIDE
LRI=$(printf '\342\201\246')   # U+2066 LEFT-TO-RIGHT ISOLATE
PDI=$(printf '\342\201\251')   # U+2069 POP DIRECTIONAL ISOLATE

who "Ada Lovelace" ada@example.com; at 2026-03-02T09:00:00Z
put README.md "# guestbook"
put guestbook/views.py "def index():" "    return 'hello'"
commit "Initial commit"

# -- the week ---------------------------------------------------------------------------------------------
at 2026-03-09T09:00:00Z
put 'guestbook/templates/<script>alert(1)</script>.html' '<p>hi</p>'
commit '<script>alert("subject")</script> Add the guestbook page

<img src=x onerror=alert("body")> and </main><main class="report"> in the body.'

who "Eve & \"Mallory\" {{ 7*7 }}" eve@example.com; at 2026-03-09T14:00:00Z
put guestbook/views.py "def index():" "    return 'hello, guest'"
commit 'feat: greet guests [click me](javascript:alert(1)) ![pixel](https://evil.example/p.png) <b>bold</b>

| col | umn |
|-----|-----|
| a   | b   |

Co-authored-by: Trudy <u>Underline</u> <trudy@example.com>'

who "Ada Lovelace" ada@example.com; at 2026-03-10T10:00:00Z
put 'guestbook/templates/{{ name }}.j2' '{% raw %}{{ name }}{% endraw %}'
commit 'fix: {{ config.SECRET_KEY }} and {% include "/etc/passwd" %} leaked in {# templates #}'

who "Ansi ${ESC}[31mRed${ESC}[0m Person" ansi@example.com; at 2026-03-11T11:00:00Z
put "docs/${ESC}[1mbold${ESC}[0m.md" "# ANSI ${ESC}[5mblink${ESC}[0m"
put guestbook/help.py "HELP = 'see the docs'"
commit "docs: ${ESC}[31mred alert${ESC}[0m ${ESC}]0;owned title${BEL}and ${ESC}]8;;https://evil.example${ESC}\\a link${ESC}]8;;${ESC}\\

Body with ${ESC}[2J clear screen and ${ESC}[?25l hidden cursor."

who "Bidi ${RLO}eman${PDI} Person" bidi@example.com; at 2026-03-12T12:00:00Z
put "guestbook/invoice${RLO}fdp.exe" "binary-ish"
commit "fix: access check for admin${RLO} txt.exe ${LRI}isolated${PDI}

Trojan source: if (isAdmin) ${RLO} } ${LRI}begin admin only"

who "Ada Lovelace" ada@example.com; at 2026-03-13T09:00:00Z
put 'guestbook/a|b*c_d`e`.py' "x = 1"
commit 'refactor: rename *emphasis* _under_ `code` ~~strike~~ # heading \ backslash | pipe

> quoted
- list item
<!-- comment --> &amp; &lt;entity&gt;'

# One commit with everything at once (the commit-view scenario explains it): a hostile author, subject, body
# and file names, a rename and a deletion. guestbook/ holds most of the week's work: before issue 8 the report
# split it one level (guestbook/models, guestbook/templates) while `narrate commit` did not (a drift); since
# the composition root both use one classifier, which splits a root package only when it holds most of the
# tracked source files, so here both show "guestbook".
who "Zed ${ESC}[7mReverse${ESC}[0m ${RLO}dez & <Co>" zed@example.com; at 2026-03-14T16:00:00Z
put "web/<img src=x onerror=alert(1)>.html" "<p>x</p>"
put "web/{{ 7*7 }} {% if %}.j2" "x"
put "web/${ESC}]0;title${BEL}${ESC}[31mred${ESC}[0m.txt" "x"
put "web/[x](javascript:alert(1)) ![i](https://evil.example/i.png).md" "x"
put "web/${RLO}gpj.exe" "x"
put "guestbook/templates/kitchen <sink> & {{ x }}.html" "<p>sink</p>"
put "guestbook/models/model {{ x }} & <y>.py" "class Model: pass"
g mv "guestbook/a|b*c_d\`e\`.py" "guestbook/**bold** <i>.py"
g rm -q README.md
commit "**Add** <h1>everything</h1> {{ 7*7 }} [link](https://evil.example) ${ESC}[31mred${ESC}[0m ${RLO}gnirts

<script>alert(\"body\")</script> {% for x in y %}{{ x }}{% endfor %} ${ESC}]8;;https://evil.example${ESC}\\hyperlink${ESC}]8;;${ESC}\\
![img](https://evil.example/i.png) | a | b |"
