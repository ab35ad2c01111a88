#!/usr/bin/env bash
# EnergyFs build entry point.
#
#   ./build.sh test            restore, build (Release), run every test project, print "N passed, N failed"
#   ./build.sh run [-- args]   run the energyfs CLI (no args: the main job, `energyfs reproduce --quick`)
#   ./build.sh bench [args]    run the benchmarks (side by side with PyTorch when python3 has torch)
#   ./build.sh build           restore and build (Release)
#   ./build.sh pack [args]     NuGet packages into artifacts/packages (args go to dotnet pack, e.g. -p:PackageVersion=0.1.1)
#   ./build.sh notebooks [args] run notebooks/*.ipynb in the .NET Interactive kernel and store their outputs
#                              (packs first; --check: run without writing; --help for the rest)
#   ./build.sh fsi [script]    F# Interactive on the same runtime (scripts, notebook cells)
#   ./build.sh dotnet ARGS     any dotnet command through the same runtime
#   ./build.sh env             print the runtime in use (plain dotnet or the private one)
#   ./build.sh clean           remove build outputs (keeps the private runtime)
#
# TorchSharp 0.107's native shim needs libstdc++ with GLIBCXX_3.4.32 (GCC 13+). When the system's
# libstdc++ is older (Debian 12), this script builds a private runtime in .compat/: Debian 13's libc6,
# libstdc++6 and libgcc-s1 unpacked into a folder, and a private dotnet root whose `dotnet` executable
# uses that folder's loader and libraries. System libraries are never modified.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPAT="${ENERGYFS_COMPAT_DIR:-$ROOT/.compat}"
CONFIG="${CONFIGURATION:-Release}"
SLN="$ROOT/EnergyFs.sln"
COMPAT_FORMAT=3 # bump when the layout of .compat changes

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE=1 MSBUILDTERMINALLOGGER=off
# A 64 MB gen-0 budget: far fewer garbage collections. TorchSharp passes temporary Scalars (for
# example the alpha of every `a + b`) to libtorch by handle only, so a collection during the native
# call can finalize one while it is read (rare "INTERNAL ASSERT ... Scalar.h" crashes under load).
# EnergyFs's own code keeps its Scalars alive (Pinned); this narrows the window for TorchSharp's.
export DOTNET_GCgen0size="${DOTNET_GCgen0size:-0x4000000}"
# The C allocator of every process this script runs (the .NET host with libtorch, and the PyTorch twin of the
# benchmarks, which so runs on the same one): mimalloc (Debian's libmimalloc2.0, installed here when absent and
# this runs as root), preloaded. With glibc's malloc a training step's tensor buffers kept coming from pages never
# touched: libtorch allocates them 64-byte aligned, and small chunks parked between freed buffers stop those from
# merging, so the heap's top moves on every step and each page is faulted in afresh (about 25 µs a fault in this
# kind of VM). Quick benchmarks at 1 thread, EnergyFs ms per call, glibc (mallopt settings only) → mimalloc: sphere
# Langevin step 8.6 → 3.2 (574 → 1 faults), CG hypergradient 95 → 52, chain of 6 ops on 10^6 floats 37 → 5.4
# (bench/results/mimalloc-quick*.md). Without mimalloc: GLIBC_TUNABLES (no tcache or fast bins, fixed thresholds,
# one arena), which helps some steps and not others (bench/results/tunables-quick*.md). Your own LD_PRELOAD
# allocator or GLIBC_TUNABLES, or ENERGYFS_MALLOC_TUNING=0, wins.
mimalloc_library() {
  local f
  for f in /usr/lib/x86_64-linux-gnu/libmimalloc.so.2 /usr/lib/aarch64-linux-gnu/libmimalloc.so.2 /usr/lib64/libmimalloc.so.2; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}
if [ "${ENERGYFS_MALLOC_TUNING:-1}" != 0 ] && [ -z "${GLIBC_TUNABLES:-}" ] && [[ "${LD_PRELOAD:-}" != *malloc* ]]; then
  allocator_lib="$(mimalloc_library || true)"
  if [ -z "$allocator_lib" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ ! -f "$ROOT/.compat/no-mimalloc" ]; then
    printf '[build] installing libmimalloc2.0 (the allocator of the runs: see build.sh)\n' >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmimalloc2.0 >/dev/null 2>&1 \
      || { mkdir -p "$ROOT/.compat" && touch "$ROOT/.compat/no-mimalloc"; }
    allocator_lib="$(mimalloc_library || true)"
  fi
  if [ -n "$allocator_lib" ]; then
    # Memory mimalloc once took stays with the process (not handed back and faulted in again): 2.0's
    # ALLOW_DECOMMIT, 2.1's PURGE_DELAY. CG hypergradient benchmark: 541 → 5 page faults per call.
    export LD_PRELOAD="$allocator_lib${LD_PRELOAD:+:$LD_PRELOAD}"
    export MIMALLOC_ALLOW_DECOMMIT="${MIMALLOC_ALLOW_DECOMMIT:-0}" MIMALLOC_PURGE_DELAY="${MIMALLOC_PURGE_DELAY:--1}"
  else
    export GLIBC_TUNABLES="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912:glibc.malloc.top_pad=67108864:glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0"
  fi
fi
# oneMKL (linked into libtorch_cpu.so) runs its generic kernels on AMD processors: a one-line override, compiled
# here from tools/mkl-dispatch/mkl_dispatch.c and preloaded, lets it choose by the instruction sets the processor
# reports (AVX2, AVX-512), as on Intel ones. Quick benchmarks at 1 thread on AMD EPYC: tanh of 10^6 floats
# 2.7 → 0.39 ms, W v with W 256 × 1000 26 → 20 µs (bench/results/mkl-dispatch*.md). ENERGYFS_MKL_DISPATCH=0 turns it off;
# without a C compiler, or on other processors, nothing changes. It lives in .native/, not in .compat/: a fresh
# checkout builds .compat/ after this point (removing whatever is there), and a preloaded library that has gone makes
# ld.so print an error line on every process start, which the F# compiler reports as a build error.
mkl_dispatch_library() {
  local src="$ROOT/tools/mkl-dispatch/mkl_dispatch.c" dir="$ROOT/.native" out stamp
  [ -f "$src" ] && grep -q AuthenticAMD /proc/cpuinfo 2>/dev/null || return 1
  out="$dir/libenergyfs-mkl-dispatch.so"
  stamp="$(sha256sum "$src" | cut -c1-16)"
  if [ ! -f "$out" ] || [ "$(cat "$out.stamp" 2>/dev/null)" != "$stamp" ]; then
    local cc
    cc="$(command -v cc || command -v gcc || command -v clang || true)"
    [ -n "$cc" ] || return 1
    mkdir -p "$dir" && "$cc" -shared -fPIC -O2 -o "$out.tmp" "$src" 2>/dev/null && mv "$out.tmp" "$out" && echo "$stamp" >"$out.stamp" || return 1
  fi
  printf '%s' "$out"
}
if [ "${ENERGYFS_MKL_DISPATCH:-1}" != 0 ] && [[ "${LD_PRELOAD:-}" != *mkl-dispatch* ]]; then
  mkl_dispatch_lib="$(mkl_dispatch_library || true)"
  [ -z "$mkl_dispatch_lib" ] || export LD_PRELOAD="$mkl_dispatch_lib${LD_PRELOAD:+:$LD_PRELOAD}"
fi
# The benchmark datasets, for apps outside the repository started through this script (EnergyFs.Data.Paths
# and DataPaths read ENERGYFS_DATA before walking up from the current and the executable's folders).
[ -n "${ENERGYFS_DATA:-}" ] || [ ! -f "$ROOT/data/SOURCES.md" ] || export ENERGYFS_DATA="$ROOT/data"

say() { printf '[build] %s\n' "$*" >&2; }
die() { printf '[build] error: %s\n' "$*" >&2; exit 1; }

# The machine's dotnet: the first on PATH that is not a private one (this script, run from a process that
# another build.sh started, e.g. by a test or an app, finds that one's private dotnet first on PATH).
system_dotnet() {
  local candidate resolved
  for candidate in $(type -ap dotnet); do
    resolved="$(readlink -f "$candidate")"
    [ -f "$(dirname "$resolved")/../READY" ] && [ -d "$(dirname "$resolved")/../sysroot" ] && continue
    printf '%s' "$resolved"
    return 0
  done
  die "dotnet (the .NET 10 SDK) is not on PATH; install it first"
}

system_libstdcxx() {
  local p
  p="$(/sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')"
  [ -n "$p" ] || p="$(ls /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6 2>/dev/null | head -n1)"
  printf '%s' "$p"
}

# True when the system's libstdc++ is new enough for TorchSharp's native shim.
system_is_new_enough() {
  local lib
  lib="$(system_libstdcxx)"
  [ -n "$lib" ] && grep -aq 'GLIBCXX_3\.4\.32' "$lib"
}

# The Debian mirror named by this machine's own apt sources (never written into the repo).
debian_mirror() {
  local uri=""
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    uri="$(awk '/^URIs:/ {for (i=2;i<=NF;i++) print $i}' /etc/apt/sources.list.d/*.sources | grep -v -- '-security' | grep '/debian/\?$' | head -n1 || true)"
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri="$(awk '/^deb / {for (i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) {print $i; break}}' /etc/apt/sources.list | grep -v -- '-security' | head -n1 || true)"
  fi
  [ -n "$uri" ] || die "could not find a Debian mirror in this machine's apt sources"
  printf '%s' "${uri%/}"
}

setup_compat() {
  local dotnet_exe stamp want
  dotnet_exe="$(system_dotnet)"
  want="format=$COMPAT_FORMAT dotnet=$(sha256sum "$dotnet_exe" | cut -c1-16)"
  stamp="$COMPAT/READY"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$COMPAT/dotnet/dotnet" ]; then
    return 0
  fi
  . /etc/os-release 2>/dev/null || true
  case " ${ID:-} ${ID_LIKE:-} " in
    *" debian "*) ;;
    *) die "TorchSharp 0.107 needs libstdc++ with GLIBCXX_3.4.32 (GCC 13 or newer), and this system's is older.
       Automatic set-up of a private runtime is only implemented for Debian. Install GCC 13+'s libstdc++
       (or run on a newer distribution) and try again." ;;
  esac
  command -v apt-get >/dev/null || die "apt-get not found; cannot prepare the private runtime"
  command -v dpkg-deb >/dev/null || die "dpkg-deb not found; cannot prepare the private runtime"
  local codename="${VERSION_CODENAME:-bookworm}" mirror
  mirror="$(debian_mirror)"
  say "system libstdc++ lacks GLIBCXX_3.4.32: preparing a private runtime in ${COMPAT#$ROOT/} (Debian trixie libc6, libstdc++6, libgcc-s1)"
  rm -rf "$COMPAT"
  mkdir -p "$COMPAT/apt/lists/partial" "$COMPAT/apt/cache/archives/partial" "$COMPAT/debs" "$COMPAT/sysroot" "$COMPAT/dotnet"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg signed=""
  [ -f "$keyring" ] && signed="[signed-by=$keyring] "
  {
    echo "deb ${signed}$mirror trixie main"
    echo "deb ${signed}$mirror $codename main"
  } >"$COMPAT/apt/sources.list"
  local apt_opts=(
    -o "Dir::Etc::SourceList=$COMPAT/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$COMPAT/apt/lists" -o "Dir::Cache=$COMPAT/apt/cache"
    -o "Acquire::Languages=none" -o "APT::Sandbox::User=root"
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false"
  )
  apt-get "${apt_opts[@]}" -qq update >&2 || die "apt-get update (private lists) failed"
  local pkgs=(libc6/trixie libstdc++6/trixie libgcc-s1/trixie)
  command -v patchelf >/dev/null || pkgs+=("patchelf/$codename")
  (cd "$COMPAT/debs" && apt-get "${apt_opts[@]}" -qq download "${pkgs[@]}" >&2) || die "apt-get download ${pkgs[*]} failed"
  local deb
  for deb in "$COMPAT"/debs/*.deb; do dpkg-deb -x "$deb" "$COMPAT/sysroot"; done
  local lib="$COMPAT/sysroot/usr/lib/x86_64-linux-gnu" ld="$COMPAT/sysroot/usr/lib64/ld-linux-x86-64.so.2"
  [ -x "$ld" ] && grep -aq 'GLIBCXX_3\.4\.32' "$lib/libstdc++.so.6" || die "the downloaded runtime is incomplete ($ld, $lib/libstdc++.so.6)"
  local patchelf
  patchelf="$(command -v patchelf || echo "$COMPAT/sysroot/usr/bin/patchelf")"
  # The private dotnet root: every entry of the system's, except the executable, which is a patched copy.
  local system_root entry
  system_root="$(dirname "$dotnet_exe")"
  for entry in "$system_root"/*; do
    [ "$(basename "$entry")" = dotnet ] || ln -sfn "$entry" "$COMPAT/dotnet/$(basename "$entry")"
  done
  cp "$dotnet_exe" "$COMPAT/dotnet/dotnet"
  "$patchelf" --set-interpreter "$ld" --set-rpath "$lib" --force-rpath "$COMPAT/dotnet/dotnet"
  "$COMPAT/dotnet/dotnet" --version >/dev/null || die "the private dotnet does not start"
  rm -rf "$COMPAT/apt" "$COMPAT/debs"
  echo "$want" >"$stamp"
  say "private runtime ready"
}

# Chooses the dotnet to use and exports DOTNET, DOTNET_ROOT and ENERGYFS_PRIVATE_RUNTIME.
select_dotnet() {
  if system_is_new_enough && [ -z "${ENERGYFS_FORCE_COMPAT:-}" ]; then
    DOTNET="$(system_dotnet)"
    export DOTNET_ROOT="$(dirname "$DOTNET")" ENERGYFS_PRIVATE_RUNTIME=0
  else
    setup_compat
    DOTNET="$COMPAT/dotnet/dotnet"
    export DOTNET_ROOT="$COMPAT/dotnet" ENERGYFS_PRIVATE_RUNTIME=1
  fi
  export DOTNET_HOST_PATH="$DOTNET" DOTNET_MULTILEVEL_LOOKUP=0
  export PATH="$(dirname "$DOTNET"):$PATH"
}

dn() { "$DOTNET" "$@"; }

build() {
  # The dotnet tools of .config/dotnet-tools.json (dotnet-repl: the .NET Interactive kernels, headless).
  (cd "$ROOT" && dn tool restore -v q >/dev/null) || say "warning: dotnet tool restore failed (the kernel tests will say so)"
  dn restore "$SLN" -v q
  dn build "$SLN" -c "$CONFIG" --no-restore -v q -nologo -clp:ErrorsOnly -p:TreatWarningsAsErrors=false
}

out_dll() { # project dir, assembly name
  printf '%s/bin/%s/net10.0/%s.dll' "$1" "$CONFIG" "$2"
}

run_tests() {
  build
  local results="$ROOT/artifacts/test-results"
  rm -rf "$results" && mkdir -p "$results"
  local fs_pass=0 fs_fail=0 cs_pass=0 cs_fail=0 rc=0
  # F# tests: an Expecto console program.
  local fslog="$results/fsharp.log"
  set +e
  dn "$(out_dll "$ROOT/tests/EnergyFs.Tests" EnergyFs.Tests)" --colours 0 --no-spinner --junit-summary "$results/fsharp.junit.xml" "$@" 2>&1 | tee "$fslog"
  local fsrc=${PIPESTATUS[0]}
  set -e
  local summary
  summary="$(sed -E 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$fslog" | grep -a 'EXPECTO!' | tail -n1 || true)"
  if [ -n "$summary" ]; then
    fs_pass="$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$summary")"
    fs_fail=$(( $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$summary") + $(sed -E 's/.* ([0-9]+) errored.*/\1/' <<<"$summary") ))
  else
    fs_fail=1
  fi
  [ "$fsrc" -eq 0 ] || { rc=1; [ "$fs_fail" -gt 0 ] || fs_fail=1; }
  # C# tests: xunit through dotnet test; the test host must run on the same (possibly private) dotnet.
  set +e
  dn test "$ROOT/tests/EnergyFs.CSharp.Tests" -c "$CONFIG" --no-build -v q --nologo \
    --logger "trx;LogFileName=csharp.trx" --logger "console;verbosity=normal" --results-directory "$results" \
    -- RunConfiguration.DotNetHostPath="$DOTNET" 2>&1 | tee "$results/csharp.log"
  local csrc=${PIPESTATUS[0]}
  set -e
  local trx="$results/csharp.trx"
  if [ -f "$trx" ]; then
    cs_pass="$(grep -o '<Counters [^>]*' "$trx" | sed -E 's/.* passed="([0-9]+)".*/\1/')"
    cs_fail=$(( $(grep -o '<Counters [^>]*' "$trx" | sed -E 's/.* failed="([0-9]+)".*/\1/') + $(grep -o '<Counters [^>]*' "$trx" | sed -E 's/.* error="([0-9]+)".*/\1/') ))
  else
    cs_fail=1
  fi
  [ "$csrc" -eq 0 ] || { rc=1; [ "$cs_fail" -gt 0 ] || cs_fail=1; }
  echo
  echo "F#: $fs_pass passed, $fs_fail failed; C#: $cs_pass passed, $cs_fail failed"
  echo "$((fs_pass + cs_pass)) passed, $((fs_fail + cs_fail)) failed"
  return $rc
}

run_cli() {
  dn build "$ROOT/src/fsharp/EnergyFs.Cli" -c "$CONFIG" -v q -nologo -clp:ErrorsOnly >&2
  # No arguments: the main job, `energyfs reproduce --quick` (report in reports/latest), as one worker process per
  # core at one libtorch thread each (up to 4): on a few cores libtorch's OpenMP threads mostly spin against each
  # other, processes do not; the workers claim units from the shared cache, so the report is the one process's.
  local jobs
  jobs="$(nproc 2>/dev/null || echo 1)"; [ "$jobs" -le 4 ] || jobs=4
  [ $# -gt 0 ] || { if [ "$jobs" -gt 1 ]; then set -- reproduce --quick --jobs "$jobs"; else set -- reproduce --quick; fi; }
  dn "$(out_dll "$ROOT/src/fsharp/EnergyFs.Cli" EnergyFs.Cli)" "$@"
}

# F# Interactive on the same runtime. (`dotnet fsi` would start the SDK's own host, which on Debian 12
# loads the system's libstdc++; running fsi.dll directly keeps the private one.)
run_fsi() {
  local fsi
  fsi="$(ls -d "$DOTNET_ROOT"/sdk/*/FSharp/fsi.dll 2>/dev/null | sort -V | tail -n1)"
  [ -n "$fsi" ] || die "fsi.dll not found under $DOTNET_ROOT/sdk"
  dn exec --runtimeconfig "${fsi%.dll}.runtimeconfig.json" --depsfile "${fsi%.dll}.deps.json" "$fsi" "$@"
}

# The notebooks in the real .NET Interactive kernel (dotnet-repl, from the tool manifest), their outputs written
# into the .ipynb files (tools/EnergyFs.NotebookRunner; the test suite runs the same code).
run_notebooks() {
  build
  dn "$(out_dll "$ROOT/tools/EnergyFs.NotebookRunner" EnergyFs.NotebookRunner)" --root "$ROOT" "$@"
}

run_bench() {
  dn build "$ROOT/bench/EnergyFs.Bench" -c "$CONFIG" -v q -nologo -clp:ErrorsOnly >&2
  dn "$(out_dll "$ROOT/bench/EnergyFs.Bench" EnergyFs.Bench)" --root "$ROOT" "$@"
}

cmd="${1:-build}"
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
select_dotnet
case "$cmd" in
  build) build ;;
  test) run_tests "$@" ;;
  run) run_cli "$@" ;;
  bench) run_bench "$@" ;;
  notebooks) run_notebooks "$@" ;;
  fsi) run_fsi "$@" ;;
  pack) build && dn pack "$SLN" -c "$CONFIG" --no-build -o "$ROOT/artifacts/packages" "$@" ;;
  dotnet) dn "$@" ;;
  env)
    echo "dotnet: $DOTNET"
    echo "DOTNET_ROOT: $DOTNET_ROOT"
    echo "private runtime: $([ "$ENERGYFS_PRIVATE_RUNTIME" = 1 ] && echo "yes (${COMPAT})" || echo no)"
    echo "ENERGYFS_DATA: ${ENERGYFS_DATA:-(not set)}"
    echo "DOTNET_GCgen0size: $DOTNET_GCgen0size"
    echo "GLIBC_TUNABLES: ${GLIBC_TUNABLES:-(not set)}"
    echo "LD_PRELOAD: ${LD_PRELOAD:-(not set)}"
    ;;
  clean) find "$ROOT/src" "$ROOT/tests" "$ROOT/bench" -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} + ; rm -rf "$ROOT/artifacts" ;;
  *) die "unknown command '$cmd' (build | test | run | bench | notebooks | fsi | pack | dotnet | env | clean)" ;;
esac
