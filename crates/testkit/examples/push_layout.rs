//! Pushes a Notation e2e layout into a registry: `push_layout LAYOUT host:port/repo`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: push_layout LAYOUT_NAME_OR_DIR HOST:PORT/REPOSITORY");
        std::process::exit(2);
    }
    let dir = std::path::PathBuf::from(&args[1]);
    let dir = if dir.exists() {
        dir
    } else {
        testkit::layout::e2e_layout(&args[1])
    };
    match testkit::layout::push_layout(&dir, &args[2]) {
        Ok(p) => {
            for (tag, digest) in &p.tags {
                println!("{}:{tag} {digest}", args[2]);
            }
        }
        Err(e) => {
            eprintln!("push_layout: {e}");
            std::process::exit(1);
        }
    }
}
