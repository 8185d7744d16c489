//! The kernel image, built from `images/kernel` when sprocket is built.

/// The name the built-in image reports as its path (snapshots of it are
/// written there, in the current directory).
pub const NAME: &str = "kernel.image";

static KERNEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kernel.image"));
static BUILD_ERROR: &str = include_str!(concat!(env!("OUT_DIR"), "/kernel.error"));

/// The bytes of the built-in kernel image, or why it could not be built.
pub fn bytes() -> Result<&'static [u8], String> {
    if KERNEL.is_empty() {
        Err(format!(
            "the kernel image did not build when sprocket was built: {BUILD_ERROR}"
        ))
    } else {
        Ok(KERNEL)
    }
}
