//! Prints the runtime struct layouts goscope reads from a binary's DWARF: a debugging aid when
//! adding a Go release (`cargo run -p goscope-runtime --example dwdbg -- BIN`).

fn main() {
    let p = std::env::args().nth(1).unwrap();
    let bin = goscope_binary::Binary::open(&p).unwrap();
    let r = goscope_runtime::layouts::Layouts::from_dwarf(&bin);
    match r {
        Ok(l) => {
            for (n, s) in &l.structs {
                println!(
                    "{n} {} {:?}",
                    s.size,
                    s.fields
                        .iter()
                        .map(|f| format!("{}@{}", f.name, f.offset))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
            println!("{:?}", l.vars);
        }
        Err(e) => println!("ERR {e}"),
    }
}
