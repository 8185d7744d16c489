#!/bin/sh
# Cargo runs every rustc through this script (`build.rustc-wrapper` in
# config.toml). It passes everything on unchanged, except that the
# `sprocket` executable, built for x86-64 Linux (on it, or with
# `--target x86_64-unknown-linux-gnu`), is compiled with
# `-C relocation-model=static`: a position-dependent executable whose
# bytecode loops jump through absolute jump tables, one load and jump per
# bytecode instead of a load, a sign extension, an add and a jump (the
# PIE default). With fat LTO the whole program's machine code is made in
# this last rustc run, so the other crates need not change, and they
# cannot: proc-macro crates must stay position-independent, and a
# `rustflags` setting would reach them too. README.md ("Performance") has
# the measurements.
rustc="$1"
shift
case " $* " in
*" --crate-name sprocket "*" --crate-type bin "*)
    case " $* " in
    *" --target x86_64-unknown-linux-gnu "*)
        exec "$rustc" "$@" -C relocation-model=static
        ;;
    *" --target "*) ;;
    *)
        if [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ]; then
            exec "$rustc" "$@" -C relocation-model=static
        fi
        ;;
    esac
    ;;
esac
exec "$rustc" "$@"
