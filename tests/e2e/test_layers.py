#!/usr/bin/python3
# e2e: no database
"""scripts/check-layers.sh: no #include runs upward between the layers of
src/ (docs/ARCHITECTURE.md), apart from the exceptions it lists (none
left since issue 10).  It passes on this tree, and on a copy of src/ it fails
for an upward include it does not list and for a listed exception that is
gone."""
import os
import shutil
import subprocess

from e2e_util import REPO, Tests, check, eq, tmpdir

t = Tests("layers")
SCRIPT = os.path.join(REPO, "scripts/check-layers.sh")


def layers(src=None):
    return subprocess.run([SCRIPT] + ([src] if src else []), capture_output=True, text=True,
                          timeout=120)


@t.case
def the_tree_keeps_its_layers():
    r = layers()
    eq(r.returncode, 0, f"check-layers on src/: {r.stdout}{r.stderr}")
    check(r.stdout.startswith("layers hold"), r.stdout)


@t.case
def an_upward_include_fails_and_is_named():
    src = os.path.join(tmpdir("scandb-layers-"), "src")
    shutil.copytree(os.path.join(REPO, "src"), src)
    with open(os.path.join(src, "core", "buf.c"), "a", encoding="utf-8") as f:
        f.write('#include "store/store.h"\n')
    r = layers(src)
    eq(r.returncode, 1, f"exit: {r.stdout}")
    check('core/buf.c:' in r.stdout and "core includes store" in r.stdout, r.stdout)


@t.case
def an_exception_that_is_gone_must_leave_the_list():
    # the tree has no exception left: a copy of the script lists one that
    # does not exist (history/ includes no store/ since the findings rules
    # are pure)
    d = tmpdir("scandb-layers-")
    src = os.path.join(d, "src")
    shutil.copytree(os.path.join(REPO, "src"), src)
    script = os.path.join(d, "check-layers.sh")
    with open(SCRIPT, encoding="utf-8") as f:
        text = f.read()
    check("exceptions=(\n" in text, "the script's exception list")
    with open(script, "w", encoding="utf-8") as f:
        f.write(text.replace("exceptions=(\n", 'exceptions=(\n\t"history/findings.c -> store"\n', 1))
    r = subprocess.run(["bash", script, src], capture_output=True, text=True, timeout=120)
    eq(r.returncode, 1, f"exit: {r.stdout}")
    check("'history/findings.c -> store' no longer exists" in r.stdout, r.stdout)


if __name__ == "__main__":
    t.main()
