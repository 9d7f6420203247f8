#!/usr/bin/env bash
# NDVI benchmark: luojia-index vs OTB RadiometricIndices vs gdal_calc.py vs
# the gdal_translate I/O floor, on a synthetic 4-band UInt16 tiled GeoTIFF.
#
# Usage: bench/index_bench.sh            (as root the first time: installs
#                                         otb-bin gdal-bin python3-gdal
#                                         python3-numpy time via apt)
#
# Environment (all optional):
#   LUOJIA_BIN              dir holding luojia-index, or the binary itself
#                           (default: <repo>/build/examples)
#   LUOJIA_BENCH_DIR        work dir; generated inputs are cached here
#                           (default /tmp/luojia-bench)
#   LUOJIA_BENCH_THREADS    thread count given to every tool (default 2)
#   LUOJIA_BENCH_RAM_MB     memory budget given to every tool (default 256)
#   LUOJIA_BENCH_SIZE       side of the main benchmark raster (default 8192)
#   LUOJIA_BENCH_SCALE_SIZES  sides for the luojia RSS scaling check
#                           (default "2048 16384"; empty skips the check)
#   LUOJIA_BENCH_REPEAT     timed runs per tool; the fastest wall time and the
#                           largest peak RSS are reported (default 5)
#   LUOJIA_BENCH_CO         output creation options given to every tool
#                           (default "TILED=YES BLOCKXSIZE=512 BLOCKYSIZE=512")
#   LUOJIA_BENCH_OUT_DIR    where outputs are written (and deleted) during
#                           the run (default: LUOJIA_BENCH_DIR; /dev/shm
#                           takes the file system out of the timings)
#   LUOJIA_BENCH_RSS_TOL    allowed relative RSS difference (default 0.10)
#   LUOJIA_BENCH_GDAL_CACHEMAX  GDAL_CACHEMAX (MB) exported to every tool,
#                           luojia included (default = LUOJIA_BENCH_RAM_MB;
#                           empty: leave unset, i.e. GDAL's 5% of RAM)
#
# What every tool gets, so they run under the same conditions:
#   env GDAL_NUM_THREADS=$THREADS, ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=$THREADS,
#       OMP_NUM_THREADS=$THREADS, OTB_MAX_RAM_HINT=$RAM_MB,
#       GDAL_CACHEMAX=$RAM_MB (MB; GDAL's block cache, which otherwise
#       defaults to 5% of physical RAM). It bounds but also dominates the
#       peak RSS of the GDAL-based tools: a block cache that fills up to
#       the limit on big images and not on small ones makes RSS grow with the
#       image size, so luojia has to size GDAL's cache itself
#       (GDALSetCacheMax, overriding this variable) to meet the scaling target.
#   luojia   : --threads $THREADS --mem ${RAM_MB}M -of GTiff -co ... each
#   OTB      : -ram $RAM_MB, creation options through the extended file name
#   gdal_calc: --co ... (it is single-threaded by design)
#   floor    : gdal_translate -co ... (reads band 3, writes a Float32 band
#              as large as the NDVI: same bytes moved, no arithmetic. It is
#              single-threaded and goes through GDAL's block cache, so a
#              multi-threaded tile reader can beat it: ratio < 1 is possible)
# Page cache: it cannot be dropped without privileges we may not have, so the
# opposite is done: every tool is run once untimed on the small raster (loads
# binaries and shared libraries) and the input is read with `cat` right
# before each timed run, so every tool sees a warm page cache. `sync` is run
# (untimed) before each timed run so no tool pays for flushing another's output.
#
# Exit status: 0 when every tool ran, the NDVI values agree (max abs diff
# < 1e-6 over pixels valid in all) and luojia's peak RSS scaling is within
# LUOJIA_BENCH_RSS_TOL; 1 otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3

LUOJIA_BIN=${LUOJIA_BIN:-$REPO/build/examples}
BENCH_DIR=${LUOJIA_BENCH_DIR:-/tmp/luojia-bench}
THREADS=${LUOJIA_BENCH_THREADS:-2}
RAM_MB=${LUOJIA_BENCH_RAM_MB:-256}
SIZE=${LUOJIA_BENCH_SIZE:-8192}
SCALE_SIZES=${LUOJIA_BENCH_SCALE_SIZES-2048 16384}
REPEAT=${LUOJIA_BENCH_REPEAT:-5}
CO_LIST=${LUOJIA_BENCH_CO-TILED=YES BLOCKXSIZE=512 BLOCKYSIZE=512}
RSS_TOL=${LUOJIA_BENCH_RSS_TOL:-0.10}
GDAL_CACHE=${LUOJIA_BENCH_GDAL_CACHEMAX-$RAM_MB}
OUT_PARENT=${LUOJIA_BENCH_OUT_DIR:-$BENCH_DIR}
RED=3
NIR=4
WARM_SIZE=2048

status=0
say() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- install
PKGS=(otb-bin gdal-bin python3-gdal python3-numpy time)
pkgs_installed() {
    local p s
    for p in "${PKGS[@]}"; do
        s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
        [[ $s == ii* ]] || return 1
    done
}
if ! pkgs_installed; then
    if [[ $(id -u) -ne 0 ]]; then
        say "missing packages (${PKGS[*]}) and not root: install them first"
        exit 1
    fi
    say "== installing ${PKGS[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_install() { apt-get -q -o DPkg::Lock::Timeout=900 install -y "${PKGS[@]}"; }
    if ! apt_install; then
        # maybe no or stale package lists: update (retrying while another
        # apt holds the lists lock) and try again
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            apt-get -q -o DPkg::Lock::Timeout=900 update && break
            sleep 30
        done
        apt_install
    fi
fi

# ---------------------------------------------------------------- setup
LUOJIA=""
if [[ -f $LUOJIA_BIN && -x $LUOJIA_BIN ]]; then
    LUOJIA=$LUOJIA_BIN
elif [[ -x $LUOJIA_BIN/luojia-index ]]; then
    LUOJIA=$LUOJIA_BIN/luojia-index
else
    say "WARNING: luojia-index not found in $LUOJIA_BIN (set LUOJIA_BIN);"
    say "         running the other tools only, exit status will be 1"
    status=1
fi

export GDAL_NUM_THREADS=$THREADS
export ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=$THREADS
export OMP_NUM_THREADS=$THREADS
export OTB_MAX_RAM_HINT=$RAM_MB
if [[ -n $GDAL_CACHE ]]; then export GDAL_CACHEMAX=$GDAL_CACHE; else unset GDAL_CACHEMAX; fi
export OTB_LOGGER_LEVEL=WARNING

read -r -a CO <<<"$CO_LIST"
GDAL_CO=()   # -co K=V ... (luojia, gdal_translate)
CALC_CO=()   # --co K=V ... (gdal_calc.py)
OTB_EXT=""   # ?&gdal:co:K=V&... (OTB extended file name)
for kv in "${CO[@]}"; do
    GDAL_CO+=(-co "$kv")
    CALC_CO+=(--co "$kv")
    OTB_EXT+="&gdal:co:$kv"
done
[[ -n $OTB_EXT ]] && OTB_EXT="?$OTB_EXT"

mkdir -p "$BENCH_DIR"
mkdir -p "$OUT_PARENT"
RUN_DIR=$(mktemp -d "$OUT_PARENT/luojia-bench-run.XXXXXX")
# shellcheck disable=SC2317  # called through the trap
cleanup() { rm -rf "$RUN_DIR"; }
trap cleanup EXIT

# ---------------------------------------------------------------- inputs
GEN_VERSION=$(sed -n 's/^GENERATOR_VERSION = \([0-9]*\).*/\1/p' "$HERE/make_raster.py")
input_path() { echo "$BENCH_DIR/ms4_u16_${1}_v${GEN_VERSION}.tif"; }
ensure_input() {
    local n=$1 f need avail
    f=$(input_path "$n")
    if [[ ! -s $f ]]; then
        # input (8 B/px) plus room for one Float32 output (4 B/px) and slack
        need=$(( n * n * 12 / 1024 + 1024 * 1024 ))
        avail=$(df -Pk "$BENCH_DIR" | awk 'NR==2 {print $4}')
        if (( avail < need )); then
            say "not enough disk in $BENCH_DIR for ${n}x$n: need ${need} KB, have ${avail} KB"
            exit 1
        fi
        say "== generating ${n}x$n 4-band UInt16 input (cached in $f)"
        "$PY" "$HERE/make_raster.py" "$n" "$f"
    fi
}
ensure_input "$WARM_SIZE"
ensure_input "$SIZE"
for n in $SCALE_SIZES; do ensure_input "$n"; done
IN=$(input_path "$SIZE")

# ---------------------------------------------------------------- tools
# build_cmd TOOL IN OUT: sets the array CMD to the tool's command line
build_cmd() {
    local tool=$1 in=$2 out=$3
    case $tool in
    luojia)
        CMD=("$LUOJIA" -q --overwrite --index ndvi --red "$RED" --nir "$NIR"
             --threads "$THREADS" --mem "${RAM_MB}M" -of GTiff "${GDAL_CO[@]}" "$in" "$out") ;;
    otb)
        CMD=(otbcli_RadiometricIndices -progress false -in "$in" -out "$out$OTB_EXT" float
             -list Vegetation:NDVI -channels.red "$RED" -channels.nir "$NIR" -ram "$RAM_MB") ;;
    gdal_calc)
        # A = red, B = nir. The denominator uses maximum(..., 1): for UInt16
        # inputs nir + red == 0 only where both are 0, i.e. input nodata, which
        # gdal_calc itself overwrites with --NoDataValue. Without it 0/0 gives
        # NaN, and gdal_calc's nodata fill (result*valid + ndv*invalid) would
        # keep the NaN there.
        CMD=(gdal_calc.py --quiet -A "$in" --A_band="$RED" -B "$in" --B_band="$NIR"
             "--calc=(B.astype(float32)-A)/maximum(B.astype(float32)+A,1)"
             --type=Float32 --NoDataValue=-9999 "${CALC_CO[@]}" --outfile "$out" --overwrite) ;;
    floor)
        CMD=(gdal_translate -q -b "$RED" -ot Float32 "${GDAL_CO[@]}" "$in" "$out") ;;
    *) say "unknown tool $tool"; exit 1 ;;
    esac
}

# timed TOOL IN OUT: runs TOOL REPEAT times under /usr/bin/time; sets T_SECS
# (fastest wall seconds) and T_RSS (largest peak RSS, KB). Returns 1 (after
# printing the tool's log) when the tool fails.
timed() {
    local tool=$1 in=$2 out=$3 i line secs rss
    local tf=$RUN_DIR/$tool.time log=$RUN_DIR/$tool.log
    T_SECS="" T_RSS=0 T_ALL=""
    build_cmd "$tool" "$in" "$out"
    for ((i = 1; i <= REPEAT; i++)); do
        rm -f "$out" "$out.aux.xml"
        cat "$in" >/dev/null
        sync
        if ! /usr/bin/time -f '%e %M' -o "$tf" "${CMD[@]}" >"$log" 2>&1; then
            say "ERROR: $tool failed on $in; its output:"
            tail -n 30 "$log" >&2
            return 1
        fi
        line=$(tail -n 1 "$tf")
        read -r secs rss <<<"$line"
        T_ALL+="${T_ALL:+ }$secs"
        if [[ -z $T_SECS ]] || awk -v a="$secs" -v b="$T_SECS" 'BEGIN{exit !(a < b)}'; then
            T_SECS=$secs
        fi
        if ((rss > T_RSS)); then T_RSS=$rss; fi
    done
    return 0
}

TOOLS=(otb gdal_calc floor)
[[ -n $LUOJIA ]] && TOOLS=(luojia "${TOOLS[@]}")

say "== warm-up (untimed) on ${WARM_SIZE}x$WARM_SIZE"
declare -A FAILED=()
for t in "${TOOLS[@]}"; do
    build_cmd "$t" "$(input_path "$WARM_SIZE")" "$RUN_DIR/warm_$t.tif"
    if ! "${CMD[@]}" >"$RUN_DIR/warm_$t.log" 2>&1; then
        say "ERROR: $t failed on the warm-up raster:"
        tail -n 30 "$RUN_DIR/warm_$t.log" >&2
        FAILED[$t]=1
        status=1
    fi
    rm -f "$RUN_DIR/warm_$t.tif"
done

say "== timing on ${SIZE}x$SIZE (threads=$THREADS, ram=${RAM_MB} MB, repeat=$REPEAT)"
declare -A SECS=() RSS=()
for t in "${TOOLS[@]}"; do
    [[ -n ${FAILED[$t]:-} ]] && continue
    say "   $t ..."
    if timed "$t" "$IN" "$RUN_DIR/$t.tif"; then
        SECS[$t]=$T_SECS
        RSS[$t]=$T_RSS
        say "   $t: best ${T_SECS} s (runs: $T_ALL), peak RSS ${T_RSS} KB"
    else
        FAILED[$t]=1
        status=1
    fi
done

# ---------------------------------------------------------------- agreement
echo
echo "### NDVI agreement (${SIZE}x$SIZE, red=band $RED, nir=band $NIR)"
echo
CMP=()
[[ -n ${SECS[luojia]:-} ]] && CMP+=("luojia=$RUN_DIR/luojia.tif:strict")
[[ -n ${SECS[otb]:-} ]] && CMP+=("otb=$RUN_DIR/otb.tif")
[[ -n ${SECS[gdal_calc]:-} ]] && CMP+=("gdal_calc=$RUN_DIR/gdal_calc.tif:strict")
echo '```'
if ((${#CMP[@]} >= 2)); then
    if ! "$PY" "$HERE/compare.py" --input "$IN" --red "$RED" --nir "$NIR" \
            --tol 1e-6 --nodata -9999 "${CMP[@]}"; then
        status=1
    fi
else
    echo "  fewer than two NDVI outputs: nothing to compare"
    status=1
fi
echo '```'
rm -f "$RUN_DIR"/*.tif

# ---------------------------------------------------------------- table
fmt() { awk -v x="$1" -v d="${2:-2}" 'BEGIN{ printf "%.*f", d, x }'; }
ratio() {  # ratio A B -> A/B with 2 decimals, or n/a
    if [[ -n ${1:-} && -n ${2:-} ]] && awk -v b="$2" 'BEGIN{exit !(b > 0)}'; then
        awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.2f", a / b }'
    else
        printf 'n/a'
    fi
}
declare -A LABEL=([luojia]="luojia-index" [otb]="OTB RadiometricIndices"
                  [gdal_calc]="gdal_calc.py" [floor]="gdal_translate (I/O floor)")
echo
echo "### NDVI ${SIZE}x$SIZE, 4-band UInt16 -> Float32 ($(nproc) cores, threads=$THREADS, ram=${RAM_MB} MB)"
echo
echo "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), OTB $(dpkg-query -W -f='${Version}' otb-bin)," \
    "$(gdalinfo --version | cut -d, -f1), numpy $("$PY" -c 'import numpy; print(numpy.__version__)')"
echo
echo "| tool | seconds | ratio to luojia | peak RSS MB |"
echo "|---|---:|---:|---:|"
for t in luojia otb gdal_calc floor; do
    if [[ -n ${SECS[$t]:-} ]]; then
        printf '| %s | %s | %s | %s |\n' "${LABEL[$t]}" "$(fmt "${SECS[$t]}")" \
            "$(ratio "${SECS[$t]}" "${SECS[luojia]:-}")" "$(fmt "$(awk -v k="${RSS[$t]}" 'BEGIN{print k/1024}')" 1)"
    else
        printf '| %s | failed/missing | n/a | n/a |\n' "${LABEL[$t]}"
    fi
done
echo
x() { [[ $1 == n/a ]] && echo "$1" || echo "${1}x"; }
echo "- luojia vs OTB speed-up (OTB s / luojia s): $(x "$(ratio "${SECS[otb]:-}" "${SECS[luojia]:-}")")"
echo "- luojia vs gdal_calc speed-up: $(x "$(ratio "${SECS[gdal_calc]:-}" "${SECS[luojia]:-}")")"
echo "- luojia / IO floor (luojia s / gdal_translate s): $(x "$(ratio "${SECS[luojia]:-}" "${SECS[floor]:-}")")"
echo
echo "Commands (IN = ${IN##*/}):"
echo
for t in "${TOOLS[@]}"; do
    build_cmd "$t" IN OUT.tif
    # shellcheck disable=SC2016  # the backquotes are markdown
    printf -- '- %s: `%s`\n' "$t" "$(printf '%q ' "${CMD[@]}" | sed 's/ $//')"
done
echo "- env: GDAL_NUM_THREADS=$GDAL_NUM_THREADS ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=$ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS" \
    "OMP_NUM_THREADS=$OMP_NUM_THREADS OTB_MAX_RAM_HINT=$OTB_MAX_RAM_HINT GDAL_CACHEMAX=${GDAL_CACHEMAX:-unset};" \
    "warm page cache (cat IN), best of $REPEAT run(s)"

# ---------------------------------------------------------------- RSS scaling
read -r -a SCALE <<<"$SCALE_SIZES"
if ((${#SCALE[@]} >= 2)) && [[ -n ${SECS[luojia]:-} ]]; then
    echo
    echo "### luojia peak RSS vs image size"
    echo
    echo "| size | seconds | peak RSS MB |"
    echo "|---|---:|---:|"
    declare -A SRSS=()
    # the main-size run is shown too (not re-run), for where RSS levels off
    mapfile -t ROWS < <(printf '%s\n' "${SCALE[@]}" "$SIZE" | sort -n -u)
    for n in "${ROWS[@]}"; do
        if [[ " ${SCALE[*]} " != *" $n "* ]]; then
            printf '| %sx%s (main run) | %s | %s |\n' "$n" "$n" "$(fmt "${SECS[luojia]}")" \
                "$(fmt "$(awk -v k="${RSS[luojia]}" 'BEGIN{print k/1024}')" 1)"
            continue
        fi
        if timed luojia "$(input_path "$n")" "$RUN_DIR/scale_$n.tif"; then
            SRSS[$n]=$T_RSS
            printf '| %sx%s | %s | %s |\n' "$n" "$n" "$(fmt "$T_SECS")" \
                "$(fmt "$(awk -v k="$T_RSS" 'BEGIN{print k/1024}')" 1)"
        else
            printf '| %sx%s | failed | n/a |\n' "$n" "$n"
            status=1
        fi
        rm -f "$RUN_DIR/scale_$n.tif"
    done
    first=${SCALE[0]} last=${SCALE[-1]}
    if [[ -n ${SRSS[$first]:-} && -n ${SRSS[$last]:-} ]]; then
        rel=$(awk -v a="${SRSS[$first]}" -v b="${SRSS[$last]}" 'BEGIN{ printf "%.4f", (b - a) / a }')
        verdict=$(awk -v r="$rel" -v t="$RSS_TOL" 'BEGIN{ r = r < 0 ? -r : r; print (r <= t) ? "PASS" : "FAIL" }')
        echo
        echo "- RSS ${last}² vs ${first}²: $(awk -v r="$rel" 'BEGIN{ printf "%+.1f%%", 100 * r }')" \
            "(target within $(awk -v t="$RSS_TOL" 'BEGIN{ printf "%g%%", 100 * t }')): $verdict"
        [[ $verdict == PASS ]] || status=1
    fi
elif ((${#SCALE[@]} >= 2)); then
    echo
    echo "- luojia RSS scaling check skipped: no working luojia-index"
fi

exit "$status"
