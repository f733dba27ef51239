//! Prints what the parser derives from a catalog file, one entry a block:
//! `cargo run -p chiase-io --example dump_catalog -- FILE`.
fn main() {
    let path = std::env::args().nth(1).expect("usage: dump_catalog FILE");
    let bytes = std::fs::read(&path).expect("cannot read the file");
    match chiase_io::decision_table::parse_catalog(&path, &bytes) {
        Ok(p) => {
            println!("title: {:?}\ndecision: {:?}\nwarnings: {:?}", p.title_lines, p.decision_hint, p.warnings);
            for (row, f) in &p.entries {
                let modes: Vec<&str> = f.sharing.modes.iter().map(|m| m.code()).collect();
                let channels: Vec<&str> = f.channels.iter().map(|c| c.code()).collect();
                println!(
                    "\n#{} (line {}) {}\n  owner: {}\n  modes: {:?} scopes: {:?} terms: {}\n  cadence: {} channels: {:?}\n  description:\n{}\n  mechanism:\n{}",
                    f.no,
                    row.line,
                    f.name,
                    f.owner_name,
                    modes,
                    f.sharing.scopes,
                    f.sharing.terms_of_use.is_some(),
                    f.cadence,
                    channels,
                    f.description.plain(),
                    f.mechanism.plain()
                );
            }
        }
        Err(e) => eprintln!("error: {e}"),
    }
}
