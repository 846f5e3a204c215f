#!/usr/bin/python3
"""End-to-end: what people say about hosts (issue 11), on both backends.

`scandb tag ADDR|CIDR add|rm TAG...` (a CIDR tags every known host in it;
adding a tag a host has is not an error; the hosts changed are counted),
`scandb tags [ADDR]` in every format, `scandb note ADDR [TEXT]` and `note rm
ID` (author from $SCANDB_AUTHOR), `scandb host` showing both (table and
JSON); usage errors name the parameter, exit 2 and change nothing; hostile
text (quotes, SQL, control characters, invalid UTF-8, very long) is either
refused whole or stored and shown back exactly (JSON) and harmlessly (table).
"""
import csv
import io
import json

from e2e_util import Tests, check, eq, newdb, run
import test_history as th

t = Tests("tags")

H1, H2, H3, H6 = "10.1.0.1", "10.1.0.2", "10.2.0.1", "2001:db8::7"
AUTHOR = {"SCANDB_AUTHOR": "alice"}


def db_with_hosts():
    d = th.Dir()
    f = d.scan("s", th.D(1), [{"addr": a, "ports": [th.P(22)]} for a in (H1, H2, H3, H6)])
    db = newdb()
    run(db, "import", f, expect=0)
    return db


def js(db, *args, env=None):
    return run(db, *args, "--format", "json", env=env, expect=0).json()


def tag_json(db, *args, env=None):
    return js(db, "tag", *args, env=env)


def said(db):
    """Everything tags and notes hold, as the commands show it."""
    out = {"tags": js(db, "tags")}
    for a in (H1, H2, H3, H6):
        h = js(db, "host", a)
        out[a] = (h["tags"], h["notes"])
    return out


@t.case
def tag_one_host_and_a_cidr():
    db = db_with_hosts()
    r = tag_json(db, H1, "add", "web", "prod", env=AUTHOR)
    eq((r["action"], r["tags"], r["hosts_matched"], r["hosts_changed"]),
       ("add", ["web", "prod"], 1, 1), "two tags on one host")
    r = tag_json(db, H1, "add", "web")
    eq((r["hosts_matched"], r["hosts_changed"]), (1, 0), "adding a tag it has: no change, no error")
    r = tag_json(db, "10.1.0.0/16", "add", "web", "lab")
    eq((r["hosts_matched"], r["hosts_changed"]), (2, 2), "the CIDR's two known hosts")
    r = tag_json(db, "2001:db8::/32", "add", "v6")
    eq((r["hosts_matched"], r["hosts_changed"]), (1, 1), "an IPv6 block")
    eq(js(db, "tags"), [{"tag": "lab", "hosts": 2}, {"tag": "prod", "hosts": 1},
                        {"tag": "v6", "hosts": 1}, {"tag": "web", "hosts": 2}], "tags")
    mine = js(db, "tags", H1)
    eq([(x["tag"], x["author"]) for x in mine],
       [("lab", mine[0]["author"]), ("prod", "alice"), ("web", "alice")], "H1's tags")
    check(mine[1]["added"].endswith("Z"), mine)
    r = tag_json(db, "10.0.0.0/8", "rm", "web", "nosuch")
    eq((r["hosts_matched"], r["hosts_changed"]), (3, 2), "rm: hosts that had it")
    eq(js(db, "tags", H2), [{"tag": "lab", "added": js(db, "tags", H2)[0]["added"],
                             "author": js(db, "tags", H2)[0]["author"]}], "H2 keeps lab")
    txt = run(db, "tag", H3, "add", "x", expect=0).out
    eq(txt, "added: 1 of 1 known host changed\n", "table answer")


@t.case
def tags_listing_formats():
    db = db_with_hosts()
    run(db, "tag", "10.0.0.0/8", "add", "a", "b", expect=0)
    run(db, "tag", H6, "add", "b", expect=0)
    table = run(db, "tags", expect=0).out.splitlines()
    eq([ln.split() for ln in table], [["TAG", "HOSTS"], ["a", "3"], ["b", "4"]], "table")
    nd = [json.loads(x) for x in run(db, "tags", "--format", "ndjson", expect=0).out.splitlines()]
    eq(nd, [{"tag": "a", "hosts": 3}, {"tag": "b", "hosts": 4}], "ndjson")
    rows = list(csv.reader(io.StringIO(run(db, "tags", "--format", "csv", expect=0).out)))
    eq(rows, [["tag", "hosts"], ["a", "3"], ["b", "4"]], "csv")
    rows = list(csv.reader(io.StringIO(run(db, "tags", H6, "--format", "csv", expect=0).out)))
    eq([r[0] for r in rows], ["tag", "b"], "one host's, csv")
    empty = newdb()
    run(empty, "import", th.Dir().scan("e", th.D(1), [{"addr": H1, "ports": [th.P(22)]}]),
        expect=0)
    r = run(empty, "tags", expect=0)
    eq((r.out, r.err), ("", "no tags match\n"), "no tags")
    eq(js(empty, "tags"), [], "no tags, json")


@t.case
def notes_add_list_remove_and_host_shows_them():
    db = db_with_hosts()
    r = js(db, "note", H1, "first", "remark", env=AUTHOR)
    eq(r["addr"], H1, "note answer")
    n1 = r["id"]
    n2 = js(db, "note", H1, "second\nline\twith tab")["id"]
    notes = js(db, "note", H1)
    eq([(n["id"], n["author"], n["text"]) for n in notes],
       [(n1, "alice", "first remark"), (n2, notes[1]["author"], "second\nline\twith tab")],
       "notes, oldest first")
    check(notes[0]["at"].endswith("Z"), notes)
    run(db, "tag", H1, "add", "web", expect=0)
    h = js(db, "host", H1)
    eq(([x["tag"] for x in h["tags"]], h["notes"]), (["web"], notes), "host --format json")
    eq((js(db, "host", H2)["tags"], js(db, "host", H2)["notes"]), ([], []), "a host without")
    table = run(db, "host", H1, expect=0).out
    check("Tags:        web\n" in table, table)
    check(f"  #{n1}  " in table and "      first remark\n" in table, table)
    check("      second\n      line?with tab\n" in table, f"lines of a note, made safe: {table}")
    rows = list(csv.reader(io.StringIO(run(db, "note", H1, "--format", "csv", expect=0).out)))
    eq(rows[0], ["id", "at", "author", "text"], "csv header")
    eq(rows[2][3], "second\nline\twith tab", "csv keeps the text")
    eq(run(db, "note", "rm", n1, expect=0).out, f"removed note {n1}\n", "note rm")
    eq([n["id"] for n in js(db, "note", H1)], [n2], "one note left")
    r = run(db, "note", "rm", n1)
    eq(r.code, 1, f"removing it again: {r!r}")
    check(f"no note {n1}" in r.err, r.err)
    r = run(db, "note", H2)
    eq((r.code, r.out, r.err), (0, "", "no notes match\n"), "no notes")


@t.case
def unknown_hosts():
    db = db_with_hosts()
    before = said(db)
    for args in (("tag", "10.9.9.9", "add", "x"), ("tag", "192.168.0.0/16", "add", "x"),
                 ("note", "10.9.9.9", "hi"), ("note", "10.9.9.9"), ("tags", "10.9.9.9")):
        r = run(db, *args)
        eq(r.code, 1, f"{args}: {r!r}")
        check("no known host" in r.err or "no host 10.9.9.9" in r.err, f"{args}: {r.err}")
    eq(said(db), before, "nothing changed")


@t.case
def usage_errors_name_the_parameter_and_change_nothing():
    db = db_with_hosts()
    run(db, "tag", H1, "add", "keep", expect=0)
    run(db, "note", H1, "keep", expect=0)
    before = said(db)
    cases = [
        (("tag",), "missing ADDR|CIDR"),
        (("tag", "nothost", "add", "x"), "ADDR|CIDR: 'nothost'"),
        (("tag", "10.0.0.0/33", "add", "x"), "ADDR|CIDR"),
        (("tag", H1), "missing add or rm"),
        (("tag", H1, "put", "x"), "'put': the action is add or rm"),
        (("tag", H1, "add"), "missing TAG"),
        (("tag", H1, "add", "ok", "bad tag"), "TAG 'bad tag'"),
        (("tag", H1, "add", "x" * 65), "TAG '"),
        (("tag", H1, "add", ""), "TAG ''"),
        (("tag", H1, "add", "a'b"), "TAG 'a'b'"),
        (("tag", H1, "add", "a;DROP TABLE hosts"), "TAG"),
        (("tag", H1, "add", "é"), "TAG"),
        (("tag", H1, "add", "x", "--format", "csv"), "format"),
        (("tags", "nothost"), "ADDR: 'nothost'"),
        (("tags", H1, H2), "unexpected argument"),
        (("note",), "missing ADDR"),
        (("note", "nothost", "x"), "ADDR: 'nothost'"),
        (("note", H1, "a\x01b"), "TEXT"),
        (("note", H1, "\x1b[31mred"), "TEXT"),
        (("note", H1, "c1\u0085x"), "TEXT"),
        (("note", H1, "bad \udcff utf8"), "TEXT"),
        (("note", H1, "x" * 65537), "TEXT"),
        (("note", H1, ""), "TEXT"),
        (("note", H1, "x", "--format", "csv"), "format"),
        (("note", "rm"), "missing note ID"),
        (("note", "rm", "x"), "ID"),
        (("note", "rm", "1", "2"), "unexpected argument"),
    ]
    for args, words in cases:
        r = run(db, *args)
        eq(r.code, 2, f"{[a[:40] for a in args]}: {r!r}"[:600])
        check(words in r.err, f"{[a[:40] for a in args]}: {r.err[:300]!r} should say {words!r}")
    for env in ({"SCANDB_AUTHOR": "bad\nauthor"}, {"SCANDB_AUTHOR": "x" * 300}):
        for args in (("tag", H1, "add", "y"), ("note", H1, "y")):
            r = run(db, *args, env=env)
            eq(r.code, 2, f"{args} with {env['SCANDB_AUTHOR'][:10]!r}: {r!r}")
            check("SCANDB_AUTHOR" in r.err, r.err)
    eq(said(db), before, "nothing changed by the refused commands")
    eq(tag_json(db, H1, "add", "x" * 64)["hosts_changed"], 1, "a 64-character tag is fine")
    eq(tag_json(db, H1, "add", "A-z_0.9:ok")["hosts_changed"], 1, "every allowed character")


@t.case
def hostile_note_text_is_stored_exactly():
    db = db_with_hosts()
    texts = ["it's \"quoted\"; DROP TABLE hosts; --", "Robert'); DELETE FROM host_notes;--",
             "%s%n%x %d", "\\x00 \\\\", "日本語 ✓ 🙂 \u202eevil", "$(rm -rf /) `id`",
             "<script>alert(1)</script>", "x" * 65536]
    ids = []
    for s in texts:
        ids.append(js(db, "note", H2, s, env={"SCANDB_AUTHOR": "O'Brien; DROP"})["id"])
    got = js(db, "note", H2)
    eq([(n["id"], n["text"], n["author"]) for n in got],
       [(i, s, "O'Brien; DROP") for i, s in zip(ids, texts)], "notes back exactly")
    eq(len(js(db, "hosts")), 4, "the hosts are all there")
    table = run(db, "note", H2, expect=0).out
    check("\x1b" not in table and "…" in table, "the long note cut in the table")
    big = run(db, "host", H2, expect=0).out
    check(big.count("x" * 1000) >= 1, "host prints a long note whole")


if __name__ == "__main__":
    t.main()
