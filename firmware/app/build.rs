//! With the Mbed TLS backend on a board without them (`libc-stdio`): the no-op stdio functions
//! Mbed TLS links against.
fn main() {
    println!("cargo:rerun-if-changed=csrc/stdio.c");
    #[cfg(all(feature = "tls-mbedtls", feature = "libc-stdio"))]
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        cc::Build::new()
            .file("csrc/stdio.c")
            .compiler("clang")
            .flag("-ffreestanding")
            .compile("mreq_stdio");
    }
}
