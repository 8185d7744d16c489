#!/usr/bin/env bash
# Builds `sprocket` with profile-guided optimization (PGO) at
# target/pgo/release/sprocket.
#
# 1. builds an instrumented sprocket (target/pgo-gen);
# 2. runs it on the kernel image built from our sources: its test suite and
#    its tiny benchmarks;
# 3. merges the counts with llvm-profdata (rustup's llvm-tools component, or
#    LLVM_PROFDATA) and builds again with them.
#
# Why: the bytecode loops are one large function, and without counts LLVM
# guesses which of its paths are hot when it allocates registers and lays
# out code. README.md ("Performance") has the measurements. Training on
# Are-We-Fast-Yet's benchmarks as well was measured too, and was no better
# on them than this training on the kernel alone (Queens 10% slower).
#
# The flags go through `--config`, which cargo adds to those of
# .cargo/config.toml (a RUSTFLAGS variable would replace them).
set -euo pipefail
cd "$(dirname "$0")/.."

profdata=${LLVM_PROFDATA:-}
if [ -z "$profdata" ]; then
    profdata=$(find "$(rustc --print sysroot)" -name llvm-profdata -type f 2>/dev/null | head -1)
fi
if [ -z "$profdata" ] || [ ! -x "$profdata" ]; then
    echo "pgo-build: llvm-profdata not found; run 'rustup component add llvm-tools'" >&2
    echo "or set LLVM_PROFDATA to an llvm-profdata of rustc's LLVM version ($(rustc -vV | sed -n 's/^LLVM version: //p'))" >&2
    exit 1
fi

data=$PWD/target/pgo-data
rm -rf "$data"
mkdir -p "$data"

echo "== instrumented build"
cargo build --release -p vm --target-dir target/pgo-gen \
    --config "build.rustflags=[\"-Cprofile-generate=$data\"]"
gen=target/pgo-gen/release/sprocket

echo "== training runs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$gen" image build images/kernel -o "$work/kernel.image"
"$gen" test "$work/kernel.image" | tail -1
"$gen" bench "$work/kernel.image" all

echo "== merging the counts"
"$profdata" merge -o "$data/merged.profdata" "$data"

echo "== optimized build"
cargo build --release -p vm --target-dir target/pgo \
    --config "build.rustflags=[\"-Cprofile-use=$data/merged.profdata\"]"
echo "built target/pgo/release/sprocket"
