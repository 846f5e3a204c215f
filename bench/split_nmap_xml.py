#!/usr/bin/python3
"""Split one nmap XML file into N valid nmap XML files, each holding a
contiguous share of the <host> elements with the original header and
<runstats> footer (its host counts left as they were: scandb stores them as
the file says).  Used by bench/pg_import.sh to give concurrent importers
distinct hosts.  Streams line by line; expects nmap's own layout (every
<host ...> element starts on a new line, as nmap writes it).

    bench/split_nmap_xml.py FILE N OUTPREFIX   -> OUTPREFIX.1.xml ... OUTPREFIX.N.xml
"""
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: split_nmap_xml.py FILE N OUTPREFIX")
    path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if n < 1 or n > 64:
        sys.exit("split_nmap_xml.py: N must be 1..64")
    with open(path, encoding="utf-8") as f:
        total = sum(1 for line in f if line.startswith("<host "))
    if total < n:
        sys.exit(f"split_nmap_xml.py: {path} has {total} hosts, fewer than {n}")
    header, footer = [], []
    per = (total + n - 1) // n
    outs = [open(f"{prefix}.{i + 1}.xml", "w", encoding="utf-8") for i in range(n)]
    seen, in_hosts, cur = 0, False, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("<host "):
                if not in_hosts:
                    in_hosts = True
                    for o in outs:
                        o.writelines(header)
                cur = outs[min(seen // per, n - 1)]
                seen += 1
            if line.startswith("<runstats>"):
                cur = None
                in_hosts = "footer"
            if in_hosts == "footer":
                footer.append(line)
            elif in_hosts:
                cur.write(line)
            else:
                header.append(line)
    for o in outs:
        o.writelines(footer)
        o.close()


if __name__ == "__main__":
    main()
