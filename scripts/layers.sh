#!/bin/bash
# Prints which folders of Sources/VigilCore use which other folders (the names each edge rests
# on) in dependency order, lowest first, and fails when the folders depend on each other in a
# cycle (README, "Architecture"). A rough reading by grep: a folder uses another when its code
# (comments and string literals dropped) names a type declared at the top level of the other,
# or calls a free function declared there (unless it declares a function of that name itself).
#   scripts/layers.sh          the edges, then the order
set -euo pipefail
cd "$(dirname "$0")/../Sources/VigilCore"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for dir in */; do
    d=${dir%/}
    sed -E 's#//.*$##; s/"([^"\\]|\\.)*"/""/g' "$d"/*.swift > "$tmp/$d.code"
    grep -hoE '^(@[A-Za-z]+ )*((public|package|internal|fileprivate) )?(final )?(indirect )?(struct|enum|class|protocol|typealias|actor|func) +[A-Za-z_][A-Za-z0-9_]*' \
        "$d"/*.swift | awk -v d="$d" '{print d, $NF}'
done | sort -u > "$tmp/decls"
while read -r d name; do
    case $name in
        [A-Z]*) pattern="\\b$name\\b" ;;
        *) pattern="(?<![.\\w])(?<!func )$name\\(" ;;   # a free function called (not a method, not declared)
    esac
    for f in "$tmp"/*.code; do
        u=$(basename "$f" .code)
        [ "$u" = "$d" ] && continue
        # a function name the folder declares itself (a method of the same name) is its own
        if [[ $name == [a-z]* ]] && grep -qP "\\bfunc $name\\b" "$f"; then continue; fi
        if grep -qP "$pattern" "$f"; then echo "$u -> $d : $name"; fi
    done
done < "$tmp/decls" | sort > "$tmp/edges"
awk '{ e[$1 " -> " $3] = e[$1 " -> " $3] (e[$1 " -> " $3] ? ", " : "") $5 } END { for (k in e) print k ": " e[k] }' "$tmp/edges" | sort
echo
if order=$(awk '{print $3, $1}' "$tmp/edges" | sort -u | tsort 2>"$tmp/loop"); then
    echo "order (lowest first): $(echo "$order" | tr '\n' ' ')"
else
    echo "cycle among the folders:" >&2
    cat "$tmp/loop" >&2
    exit 1
fi
