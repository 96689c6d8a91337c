//! Prints the runtime functions of a binary whose call classes are derived from its code (not
//! named by the table): `cargo run --release -p goscope-disasm --example derived -- BINARY`.
//! Run it on a new release's binaries to see which helpers the table does not know.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: derived BINARY")?;
    let bin = goscope_binary::Binary::open(&path)?;
    let prog = goscope_disasm::listing::Program::new(&bin)?;
    let derived = prog.derived_classes();
    for f in prog.functions() {
        let classes = derived.get(f.addr);
        if !classes.is_empty() {
            let labels: Vec<&str> = classes.iter().map(|c| c.label()).collect();
            println!("{}\t{}", f.name, labels.join(","));
        }
    }
    Ok(())
}
