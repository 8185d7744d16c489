//! Builds the kernel image from `images/kernel` at build time, so that
//! `sprocket run` without an image runs our own sources. A kernel that does
//! not build is a warning here and a clear error when the built-in image is
//! used (the tests that use it fail), so the rest of the VM still builds.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let kernel = manifest.join("../images/kernel");
    println!("cargo:rerun-if-changed={}", kernel.display());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("out dir"));
    let opts = images::builder::BuildOptions::default();
    let (bytes, error) = match images::builder::build_image(&[kernel.as_path()], &opts) {
        Ok(built) => (images::image_bytes(&built.heap, &built.header), String::new()),
        Err(e) => {
            println!("cargo:warning=the kernel image does not build: {e}");
            (Vec::new(), e.to_string())
        }
    };
    std::fs::write(out_dir.join("kernel.image"), bytes).expect("write kernel.image");
    std::fs::write(out_dir.join("kernel.error"), error).expect("write kernel.error");
}
