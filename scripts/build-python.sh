#!/usr/bin/env bash
# Build CPython twice from the same Debian source package -- free-threaded (--disable-gil) and
# with the GIL, for a fair comparison -- into the mpbench cache, and print the two interpreters.
#
#   scripts/build-python.sh [3.X]        # or MPBENCH_PYTHON_VERSION=3.X; default: the newest
#                                        # of 3.15, 3.14, 3.13 whose source can be downloaded
#   mapfile -t pythons < <(scripts/build-python.sh)
#
# stdout: two lines, the free-threaded interpreter first, then the GIL one. Everything else
# (progress, apt output) goes to stderr; compiler output goes to a log file under the cache.
#
# Source comes from Debian's archive (apt-get source), because on machines with no internet but
# a package mirror that is the one place CPython's upstream tarball (python3.X_*.orig.tar.xz) can
# be had. The archive address and suite are read from this machine's apt configuration; the
# system's sources.list and apt state are never touched (a private apt state lives in the cache).
#
# Finished builds are reused: a prefix only appears once its build and install have succeeded.
set -euo pipefail

CACHE="${MPBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mpbench}/interpreters"
REQUESTED="${1:-${MPBENCH_PYTHON_VERSION:-}}"
CANDIDATES=(3.15 3.14 3.13)   # newest first; free threading exists from 3.13 on
NEWER_SUITES=(trixie forky sid)   # newer Pythons live in newer suites than the machine's own
# Debian packages needed so that ssl, zlib, ctypes, lzma and bz2 (pip and venv need them) and the
# usual conveniences (sqlite3, readline, uuid, curses) get built.
BUILD_DEPS=(gcc make pkg-config xz-utils libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev
            libsqlite3-dev libreadline-dev uuid-dev libncurses-dev)

# Keep stdout for the result only: fd 3 is the real stdout, everything else goes to stderr.
exec 3>&1 1>&2

log() { printf 'build-python: %s\n' "$*"; }
die() { log "error: $*"; exit 1; }

if [[ -n "$REQUESTED" ]]; then
    [[ "$REQUESTED" =~ ^3\.[0-9]+$ ]] || die "version must look like 3.13, not '$REQUESTED'"
    CANDIDATES=("$REQUESTED")
fi

mkdir -p "$CACHE"
# One run at a time: two runs building into the same staging folders would corrupt each other.
exec 9>"$CACHE/.lock"
flock 9

# Temporary paths removed however the script ends (an interrupted build leaves no half prefix:
# it is only renamed to its final name once complete).
TEMPS=()
cleanup() { (( ${#TEMPS[@]} == 0 )) || rm -rf -- "${TEMPS[@]}"; }
trap cleanup EXIT

# --- build dependencies --------------------------------------------------------------------------

missing=()
for pkg in "${BUILD_DEPS[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == installed ]] || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
    (( EUID == 0 )) || die "missing Debian packages, install them first: sudo apt-get install ${missing[*]}"
    log "installing build dependencies: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The system's package lists may be stale or absent; refresh once if the first try fails.
    apt-get install -y --no-install-recommends "${missing[@]}" \
        || { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
fi

# --- private apt state with deb-src entries ------------------------------------------------------

# Ask apt itself for the configured archives (it reads one-line .list and deb822 .sources files
# alike). The Debian archive is the site whose path ends in /debian; its plain suites (no
# -updates/-security pocket) are the machine's own release.
# shellcheck disable=SC2016  # $(SITE) is apt's placeholder, not a shell expansion
mapfile -t entries < <(apt-get indextargets --no-release-info --format '$(SITE) $(RELEASE)' | sort -u)
archive=""
suites=()
for entry in "${entries[@]}"; do
    read -r site suite <<<"$entry"
    [[ "$site" =~ /debian/?$ && "$suite" =~ ^[a-z]+$ ]] || continue
    [[ -n "$archive" ]] || archive="${site%/}"
    if [[ "${site%/}" == "$archive" ]]; then suites+=("$suite"); fi
done
[[ -n "$archive" ]] || die "no Debian archive (a URI ending in /debian) in the apt configuration"
# The machine's suites first, then the newer ones; drop repeats.
mapfile -t suites < <(printf '%s\n' "${suites[@]}" "${NEWER_SUITES[@]}" | awk '!seen[$0]++')
log "Debian archive from apt configuration: $archive, suites: ${suites[*]}"

APT_DIR="$CACHE/apt"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed_by=""
if [[ -r "$keyring" ]]; then signed_by="[signed-by=$keyring] "; fi
for suite in "${suites[@]}"; do
    printf 'deb-src %s%s %s main\n' "$signed_by" "$archive" "$suite"
done >"$APT_DIR/sources.list"

APT_OPTS=(-o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache")
# apt drops root to the _apt user for downloads, who cannot enter a private home folder; it
# would fall back to root with a warning anyway, so say so up front.
(( EUID != 0 )) || APT_OPTS+=(-o APT::Sandbox::User=root)

# A suite that does not exist (yet) or a network hiccup makes update fail; the lists that did
# arrive (or those from an earlier run) are still usable.
apt-get "${APT_OPTS[@]}" update || log "warning: apt-get update failed; using the lists it has"

# --- pick the newest Python whose source can actually be downloaded ------------------------------

# The index may list versions whose files the reachable mirror lacks (404), so try each listed
# version, newest first, until one downloads.
SRC_DIR="$CACHE/sources"
found=""
for minor in "${CANDIDATES[@]}"; do
    pkg="python$minor"
    mapfile -t versions < <(apt-cache "${APT_OPTS[@]}" showsrc --only-source "$pkg" 2>/dev/null \
                                | sed -n 's/^Version: //p' | sort -u | sort -rV)
    if (( ${#versions[@]} == 0 )); then
        log "$pkg: not in the index"
        continue
    fi
    log "$pkg: the index lists ${versions[*]}"
    for version in "${versions[@]}"; do
        dir="$SRC_DIR/${pkg}_$version"
        mkdir -p "$dir"
        # apt checks the files against the signed index and skips ones already downloaded.
        if (cd "$dir" && apt-get "${APT_OPTS[@]}" source --download-only "$pkg=$version"); then
            log "$pkg $version: downloaded"
            found="$dir"
            break 2
        fi
        log "$pkg $version: download failed, trying the next one"
        rm -rf -- "$dir"
    done
done
[[ -n "$found" ]] || die "could not download the source of any of: ${CANDIDATES[*]}"

# --- verify the upstream tarball against the .dsc ------------------------------------------------

dscs=("$found"/*.dsc)
[[ -f "${dscs[0]}" ]] || die "no .dsc in $found"
# Checksums-Sha256 is a folded field: indented lines "<sha256> <size> <file>" after its name.
read -r sha256 orig < <(awk '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 }
                            f && $3 ~ /\.orig\.tar\.xz$/ { print $1, $3 }' "${dscs[0]}") \
    || die "no .orig.tar.xz in the Checksums-Sha256 of ${dscs[0]}"
(cd "$found" && sha256sum --check --strict - <<<"$sha256  $orig") \
    || die "$found/$orig does not match the SHA-256 in ${dscs[0]}"
tarball="$found/$orig"
upstream="${orig#*_}"
upstream="${upstream%.orig.tar.xz}"   # python3.13_3.13.5.orig.tar.xz -> 3.13.5
minor="${orig%%_*}"
minor="${minor#python}"               # python3.13_3.13.5.orig.tar.xz -> 3.13

# --- build ---------------------------------------------------------------------------------------

works() { [[ -x "$1/bin/python3" ]] && "$1/bin/python3" -c 'import sys' >/dev/null 2>&1; }

FRESH=()   # prefixes built by this run
# build PREFIX [configure options...]: configure, make, install into a staging folder, and only
# then rename it to PREFIX, so that a PREFIX that exists is always a finished build.
build() {
    local prefix=$1 name=${1##*/}; shift
    if works "$prefix"; then
        log "$name: already built, reusing $prefix"
        return
    fi
    local work="$CACHE/.build-$name" stage="$CACHE/.stage-$name" logfile="$CACHE/logs/$name.log"
    rm -rf -- "$work" "$stage"
    TEMPS+=("$work" "$stage")
    mkdir -p "$work" "${logfile%/*}"
    log "$name: building (output in $logfile)"
    local start=$SECONDS
    tar -xJf "$tarball" -C "$work"
    local srcs=("$work"/*/configure)
    # The prefix is compiled in, so configure with the final one and stage with DESTDIR.
    if ! (cd "${srcs[0]%/configure}" \
          && ./configure --prefix="$prefix" "$@" \
          && make -j"$(nproc)" \
          && make install DESTDIR="$stage") >"$logfile" 2>&1; then
        tail -n 40 "$logfile"
        die "$name: build failed, see $logfile"
    fi
    # A free-threaded install may only provide python3.Xt; give every prefix a bin/python3.
    local bin="$stage$prefix/bin"
    if [[ ! -e "$bin/python3" ]]; then
        local exe
        for exe in "python${minor}t" "python$minor"; do
            if [[ -x "$bin/$exe" ]]; then ln -s "$exe" "$bin/python3"; break; fi
        done
    fi
    [[ -x "$bin/python3" ]] || die "$name: the install has no bin/python3"
    rm -rf -- "$prefix"   # a previous build that no longer runs
    mv -- "$stage$prefix" "$prefix"
    rm -rf -- "$work" "$stage"
    FRESH+=("$prefix")
    log "$name: built in $(( SECONDS - start )) s"
}

ft_prefix="$CACHE/cpython-${upstream}t"
gil_prefix="$CACHE/cpython-$upstream"
build "$ft_prefix" --disable-gil
build "$gil_prefix"

# --- check ---------------------------------------------------------------------------------------

# Both must have the modules pip and venv need, and the GIL state their name promises.
for prefix in "$ft_prefix" "$gil_prefix"; do
    expect_gil=True
    if [[ "$prefix" == "$ft_prefix" ]]; then expect_gil=False; fi
    "$prefix/bin/python3" - "$expect_gil" <<'EOF' || die "$prefix failed its check"
import sys, sysconfig, ssl, ctypes, lzma, bz2, zlib
gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else "n/a"
print(sys.executable, sys.version, sysconfig.get_config_var("Py_GIL_DISABLED"), gil, file=sys.stderr)
sys.exit(str(gil) != sys.argv[1])
EOF
done

# A fresh free-threaded build must be able to install the benchmark's dependencies from wheels;
# numpy is kept to binary wheels (building it from source takes long and is not the point), the
# others may be pure Python or quick to compile.
if [[ " ${FRESH[*]} " == *" $ft_prefix "* || -n "${MPBENCH_CHECK_VENV:-}" ]]; then
    venv="$(mktemp -d)"
    TEMPS+=("$venv")
    log "checking a venv of $ft_prefix in $venv"
    "$ft_prefix/bin/python3" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --only-binary=numpy 'numpy<2.5' pyperf psutil threadpoolctl \
        || die "pip could not install the benchmark dependencies into a venv of $ft_prefix"
    gil="$("$venv/bin/python" -c 'import numpy, psutil, pyperf, threadpoolctl, sys; print(sys._is_gil_enabled())')"
    log "GIL enabled after importing numpy, psutil, pyperf, threadpoolctl: $gil"
    [[ "$gil" == False ]] || log "warning: an extension module re-enabled the GIL in $ft_prefix"
fi

printf '%s\n' "$ft_prefix/bin/python3" "$gil_prefix/bin/python3" >&3
