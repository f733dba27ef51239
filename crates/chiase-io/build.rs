//! Embeds every dataset template (templates/datasets/*.json) in the binary,
//! so that `chiase dataset create --template` and `chiase demo` need no files.

use std::io::Write;

fn main() {
    let dir = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("templates/datasets");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("templates/datasets exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("templates.rs");
    let mut f = std::fs::File::create(out).expect("write templates.rs");
    writeln!(f, "/// Every template file: (file name, contents).").unwrap();
    writeln!(f, "pub const FILES: &[(&str, &str)] = &[").unwrap();
    for n in names {
        println!("cargo:rerun-if-changed={}", dir.join(&n).display());
        writeln!(f, "    ({n:?}, include_str!({:?})),", dir.join(&n).display().to_string()).unwrap();
    }
    writeln!(f, "];").unwrap();
}
