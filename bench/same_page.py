#!/usr/bin/env python3
"""Checks that two systems answered the same Profile page, for
scripts/bench.sh: the same fields (the signed-in user's name in the header,
every <dd> value, the title) in the same order, and about the same number
of bytes (within TOLERANCE). Standard library only.

    same_page.py REFERENCE_HTML OTHER_HTML [NAME]
        exits 1 naming what differs; prints one line otherwise. With
        BENCH_FIELDS_ONLY set, only the fields are compared (a peer renders
        its own document around them).
"""
import html.parser
import os
import sys

TOLERANCE = 0.05


class Fields(html.parser.HTMLParser):
    """The text of <title>, of the header's account name and of every <dd>."""

    def __init__(self):
        super().__init__()
        self.fields = []
        self.open = None

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag in ("title", "dd") or "account-name" in classes:
            self.open = tag
            self.fields.append("")

    def handle_endtag(self, tag):
        if tag == self.open:
            self.open = None

    def handle_data(self, data):
        if self.open:
            self.fields[-1] += data


def fields(document):
    parser = Fields()
    parser.feed(document)
    return [field.strip() for field in parser.fields]


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    reference, other = (open(path, encoding="utf-8").read() for path in argv[1:3])
    name = argv[3] if len(argv) == 4 else argv[2]
    expected, got = fields(reference), fields(other)
    if expected != got:
        sys.exit(f"{name} does not show the same fields:\n  reference {expected}\n  {name} {got}")
    sizes = len(reference.encode()), len(other.encode())
    if os.environ.get("BENCH_FIELDS_ONLY"):
        print(f"{name}: the same {len(got)} fields ({sizes[1]} bytes against {sizes[0]}: its own page)")
        return
    if abs(sizes[1] - sizes[0]) > TOLERANCE * sizes[0]:
        sys.exit(f"{name} answered {sizes[1]} bytes against the reference's {sizes[0]} (more than {TOLERANCE:.0%} apart)")
    print(f"{name}: the same {len(got)} fields, {sizes[1]} bytes against {sizes[0]}")


if __name__ == "__main__":
    main(sys.argv)
