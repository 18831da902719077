#!/bin/sh
# Installs the Xen CIM providers into a real CIM broker: copies libxen_cim_providers.so to the
# broker's provider directory and stages the class MOF and the registrations.
#
#   registration/install.sh --broker sfcb|pegasus [--prefix DIR] [--lib PATH] [--dry-run]
#                           [--pegasus-interop NS]
#
# SFCB: the sfcbstage layout (<stage>/mofs/<namespace>/xencim.mof, <stage>/regs/Xen_*.reg), then
#   `sfcbrepos -f` when it is installed (restart sfcbd afterwards).
# Pegasus: the MOF of each namespace and the generated registration MOF under
#   <prefix>/share/xencim/pegasus/, then cimmof (server running) or cimmofl (server stopped):
#   the classes into their namespaces, the PG_Provider* instances into root/PG_InterOp.
# A tool that is absent is not an error: the script prints the command it would have run, so
# that a --prefix install works on a machine without the broker. See registration/README.md.
set -eu

usage() {
    cat <<'EOF'
usage: registration/install.sh --broker sfcb|pegasus [--prefix DIR] [--lib PATH] [--dry-run]
                               [--pegasus-interop NS]
  --broker           sfcb or pegasus (required)
  --prefix DIR       installation prefix [/usr]; state goes to DIR/var (to /var for /usr)
  --lib PATH         the provider library [target/release/, else target/debug/libxen_cim_providers.so]
  --dry-run          print what would be done, change nothing
  --pegasus-interop  Pegasus's provider-registration namespace [root/PG_InterOp]
EOF
}

die() { echo "install.sh: $*" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
broker="" prefix="/usr" lib="" dry_run=0 pg_interop="root/PG_InterOp"
while [ $# -gt 0 ]; do
    case "$1" in
        --broker|--prefix|--lib|--pegasus-interop)
            [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"
            case "$1" in
                --broker) broker=$2 ;;
                --prefix) prefix=$2 ;;
                --lib) lib=$2 ;;
                --pegasus-interop) pg_interop=$2 ;;
            esac
            shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
case "$broker" in
    sfcb|pegasus) ;;
    "") usage >&2; die "--broker sfcb|pegasus is required" ;;
    *) die "unknown broker '$broker': use sfcb or pegasus" ;;
esac
case "$prefix" in
    /*) ;;
    *) prefix="$(pwd)/$prefix" ;;
esac
prefix=${prefix%/}
if [ -z "$lib" ]; then
    target=${CARGO_TARGET_DIR:-$src/target}
    for p in "$target/release/libxen_cim_providers.so" "$target/debug/libxen_cim_providers.so"; do
        if [ -f "$p" ]; then lib=$p; break; fi
    done
    [ -n "$lib" ] || die "no libxen_cim_providers.so under $target: build it (cargo build --release -p xen-cim-providers) or pass --lib PATH"
fi
[ -f "$lib" ] || die "--lib $lib: no such file"
for f in "$src/mof/Xen.mof" "$here/pegasus/Xen_Registration.mof"; do
    [ -f "$f" ] || die "$f is missing (run from a complete source tree)"
done
ls "$here"/*.reg >/dev/null 2>&1 || die "no .reg files in $here"

# autoconf's convention: /usr keeps its state in /var, any other prefix in <prefix>/var.
if [ "$prefix" = "/usr" ] || [ -z "$prefix" ]; then statedir=/var; else statedir=$prefix/var; fi

# Echoes a step, and does it unless --dry-run.
step() {
    echo "+ $*"
    [ "$dry_run" = 1 ] || "$@"
}

# Runs a broker tool if it is installed; otherwise says what it would run.
tool() {
    if [ "$dry_run" = 1 ]; then
        echo "+ $*"
    elif command -v "$1" >/dev/null 2>&1; then
        echo "+ $*"
        "$@"
    else
        echo "not run ($1 is not installed here; run it on the broker's machine): $*"
    fi
}

# "class namespace" for every namespace of every stanza of the .reg files (the same reading
# as broker/src/registration.rs: '#' comments, namespace defaults to root/cimv2).
reg_namespaces() {
    awk '
        function flush() { if (cls != "") { if (ns == "") ns = "root/cimv2"; n = split(ns, a, " "); for (i = 1; i <= n; i++) print cls, a[i] } }
        { sub(/#.*/, "") }
        /^[ \t]*\[/ { flush(); cls = $0; gsub(/[][ \t]/, "", cls); ns = ""; next }
        /^[ \t]*namespace[ \t]*:/ { v = $0; sub(/^[^:]*:/, "", v); ns = ns " " v }
        END { flush() }
    ' "$here"/*.reg
}

# The MOF files of mof/Xen.mof, in its (dependency) order; files that only switch namespace
# (#pragma namespace) are left out: where a class goes is said by its registration.
mof_files() {
    sed -n 's/^[ \t]*#pragma[ \t]*include[ \t]*("\([^"]*\)").*/\1/p' "$src/mof/Xen.mof" | while read -r f; do
        grep -q '^[ \t]*#pragma[ \t]*namespace' "$src/mof/$f" || echo "$f"
    done
}

# The classes a MOF file defines.
classes_in() {
    sed -n 's/^[ \t]*class[ \t][ \t]*\([A-Za-z0-9_]*\).*/\1/p' "$1"
}

# One MOF text per namespace: root/cimv2 gets every class of mof/Xen.mof; another namespace
# (root/interop) the files that define a class registered in it, in the same order.
namespace_mof() {
    ns=$1
    registered=$(reg_namespaces | awk -v ns="$ns" '$2 == ns { print $1 }')
    echo "// xencim classes for $ns, from mof/Xen.mof (written by registration/install.sh)"
    for f in $(mof_files); do
        wanted=0
        [ "$ns" = "root/cimv2" ] && wanted=1
        for cls in $(classes_in "$src/mof/$f"); do
            echo "$registered" | grep -qx "$cls" && wanted=1
        done
        if [ "$wanted" = 1 ]; then
            echo
            echo "// ---- $f"
            cat "$src/mof/$f"
        fi
    done
}

namespaces=$(reg_namespaces | awk '{print $2}' | sort -u)
echo "== xencim providers -> $broker (prefix $prefix$([ "$dry_run" = 1 ] && echo ', dry run'))"

# Writes a file from a function's output (or says it would).
write() {
    out=$1; shift
    echo "+ $* > $out"
    if [ "$dry_run" = 0 ]; then "$@" > "$out"; fi
}

case "$broker" in
sfcb)
    providers=$prefix/lib/cmpi
    stage=$statedir/lib/sfcb/stage
    repository=$statedir/lib/sfcb/registration
    step mkdir -p "$providers" "$stage/regs"
    step cp "$lib" "$providers/libxen_cim_providers.so"
    for r in "$here"/*.reg; do
        step cp "$r" "$stage/regs/$(basename "$r")"
    done
    for ns in $namespaces; do
        step mkdir -p "$stage/mofs/$ns"
        write "$stage/mofs/$ns/xencim.mof" namespace_mof "$ns"
    done
    tool sfcbrepos -f -s "$stage" -r "$repository"
    echo "== done: restart sfcbd to load the new repository"
    ;;
pegasus)
    providers=$prefix/lib/Pegasus/providers
    share=$prefix/share/xencim/pegasus
    repository=$statedir/lib/Pegasus
    step mkdir -p "$providers" "$share"
    step cp "$lib" "$providers/libxen_cim_providers.so"
    step cp "$here/pegasus/Xen_Registration.mof" "$share/Xen_Registration.mof"
    for ns in $namespaces; do
        write "$share/xencim-$(echo "$ns" | tr / _).mof" namespace_mof "$ns"
    done
    # cimmof talks to a running cimserver; cimmofl writes the repository of a stopped one.
    if [ "$dry_run" = 0 ] && command -v cimserver >/dev/null 2>&1 && ! cimserver --status >/dev/null 2>&1 \
        && command -v cimmofl >/dev/null 2>&1; then
        mof() { tool cimmofl -R "$repository" -W "$@"; }
    else
        mof() { tool cimmof "$@"; }
    fi
    for ns in $namespaces; do
        mof -uc -aEV -n "$ns" "$share/xencim-$(echo "$ns" | tr / _).mof"
    done
    mof -n "$pg_interop" "$share/Xen_Registration.mof"
    echo "== done: Pegasus loads the provider module on first use"
    ;;
esac
