//! How the `sprocket` executable is built.

/// On x86-64 Linux, `.cargo/rustc-wrapper.sh` builds `sprocket` with
/// `-C relocation-model=static`, so that the bytecode loops dispatch
/// through absolute jump tables (README, "Performance"): the executable is
/// position-dependent (ELF type `ET_EXEC`, not the PIE default `ET_DYN`).
#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn sprocket_is_position_dependent_on_x86_64_linux() {
    if std::env::var_os("RUSTC_WRAPPER").is_some_and(|w| !w.is_empty()) {
        println!("skipped: a RUSTC_WRAPPER environment variable replaces the project's wrapper");
        return;
    }
    use std::io::Read;
    let mut header = [0u8; 18];
    std::fs::File::open(env!("CARGO_BIN_EXE_sprocket"))
        .and_then(|mut f| f.read_exact(&mut header))
        .expect("the sprocket executable");
    assert_eq!(&header[..4], b"\x7fELF");
    let e_type = u16::from_le_bytes([header[16], header[17]]);
    assert_eq!(e_type, 2, "ET_EXEC expected, found ELF type {e_type}");
}
